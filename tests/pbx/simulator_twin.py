"""The PBX simulator checked against the real Asterisk, call record by call record.

Each PBX-tier scenario plays the same call on the simulator (`pbx_bridge.simulator`, with a fast
clock): its AMI bytes go through the same tracker and recorder into a real PostgreSQL, and the
call record read back must agree with the one the real Asterisk produced, field by field (ids,
linkedids and wall-clock times aside; durations within a second). The demo runs on that simulator,
so this is what keeps it from drifting into a private dialect of Asterisk.
"""

from __future__ import annotations

from typing import Any

from crm import calls
from crm.database import Pool
from pbx_bridge import ami_events as ev
from pbx_bridge.ami_frames import FrameParser
from pbx_bridge.call_tracker import CallTracker
from pbx_bridge.simulator.scenarios import CallParams
from tests import calls_scenarios as sc
from tests.simulator_helpers import simulate
from web.api.json_io import to_json

#: Compared as they are.
EXACT = ("direction", "outcome", "reason", "answered_by", "hung_up_by", "hung_up_by_extension", "click_to_call",
         "queue", "closed_by", "transfer_kind", "operator_extension", "queue_position", "queue_left_position")
#: Compared within this many seconds (the simulator's figures are the scenario's, Asterisk's are measured).
DURATIONS = ("ring_s", "talk_s", "queue_hold_s")
TOLERANCE_S = 1.0


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """The parts of a call record (API JSON) that must not depend on which PBX produced it."""
    out = {key: record.get(key) or None for key in EXACT}
    out["legs"] = [(leg["extension"] or "external", leg["result"]) for leg in record["legs"]]
    return out


def differences(real: dict[str, Any], simulated: dict[str, Any]) -> list[str]:
    """Human-readable differences between two call records; empty when they agree."""
    out: list[str] = []
    a, b = comparable(real), comparable(simulated)
    out += [f"{key}: asterisk {a[key]!r} vs simulator {b[key]!r}" for key in a if a[key] != b[key]]
    for key in DURATIONS:
        x, y = real.get(key), simulated.get(key)
        if (x is None) != (y is None) or (x is not None and y is not None and abs(x - y) > TOLERANCE_S):
            out.append(f"{key}: asterisk {x!r} vs simulator {y!r}")
    return out


async def simulated_record(pool: Pool, scenario: str, params: CallParams) -> dict[str, Any]:
    """Play `scenario` on the simulator; the call record it leaves, as `GET /api/v1/calls` shows it."""
    return await record_of_bytes(pool, await simulate(scenario, params))


async def record_of_bytes(pool: Pool, data: bytes) -> dict[str, Any]:
    """The call record that one call's AMI bytes (a capture, or the simulator's) leave in the database."""
    events = ev.events_from_frames(FrameParser().feed(data))
    tracker = CallTracker()
    facts = tracker.feed_all(events)
    await sc.record(pool, facts)
    linkedids = sorted({fact.call_id for fact in facts if fact.call_id})
    assert len(linkedids) == 1, linkedids
    call = await calls.get_call(pool, linkedids[0])
    assert call is not None
    record: dict[str, Any] = to_json(call)
    return record


async def assert_simulator_agrees(pool: Pool, real: dict[str, Any], scenario: str, params: CallParams) -> None:
    """Fail with every differing field when the simulator tells this call differently from Asterisk."""
    simulated = await simulated_record(pool, scenario, params)
    problems = differences(real, simulated)
    assert not problems, f"simulator scenario {scenario!r} drifted from Asterisk:\n" + "\n".join(problems)

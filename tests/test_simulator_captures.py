"""The simulator against real Asterisk 22 traffic: for each recorded scenario, the simulated call
with the same caller, DID and extensions must tell the same story, event by event, and the call
tracker must reach the same outcome from both.
"""

from __future__ import annotations

from typing import Any

import pytest

from pbx_bridge import ami_events as ev
from pbx_bridge import call_facts as cf
from pbx_bridge.ami_frames import FrameParser
from pbx_bridge.call_tracker import CallTracker
from pbx_bridge.simulator.catalog import SCENARIOS
from pbx_bridge.simulator.scenarios import CallParams
from tests.simulator_helpers import (
    capture_frames,
    cdr_rows,
    display_name,
    frames_of,
    hangup_is_last_of_its_channel,
    hangups,
    id_relations,
    sequence,
    sidecar,
    simulate,
)
from tests.tracker_helpers import capture_events, capture_names

#: Capture -> (simulator scenario, the capture's durations and choices as parameters).
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "inbound_answered": ("inbound_answered", {"ring_s": 2, "talk_s": 3}),
    "inbound_answered_operator_hangs_up": ("inbound_answered_operator_hangs_up", {"ring_s": 2, "talk_s": 3}),
    "inbound_no_answer": ("inbound_no_answer", {"ring_s": 8}),
    "inbound_busy": ("inbound_busy", {"ring_s": 0}),
    "inbound_abandoned_while_ringing": ("inbound_abandoned_while_ringing", {"ring_s": 3}),
    "inbound_ringall_two_operators": ("inbound_ringall", {"answering": "102", "ring_s": 2, "talk_s": 3}),
    "inbound_failover_second_operator": ("inbound_failover", {"first_ring_s": 4, "ring_s": 2, "talk_s": 3}),
    "queue_answered": ("queue_answered", {"answering": "102", "ring_s": 2, "talk_s": 3}),
    "queue_abandoned": ("queue_abandoned", {"ring_s": 4, "late_ringing": True}),
    "click_to_call_answered": ("click_to_call", {"operator_ring_s": 2, "ring_s": 3, "talk_s": 5,
                                                 "operator_hangs_up": True}),
    "outbound_from_operator": ("outbound_from_operator", {"ring_s": 2, "talk_s": 3, "operator_hangs_up": True}),
}


def params_for(name: str) -> tuple[str, CallParams]:
    truth = sidecar(name)
    scenario, extra = CASES[name]
    extensions = tuple(op["operator"] for op in truth["operators_expected"]) or ("101",)
    if truth["direction"] == "inbound":
        customer, did = truth["caller"]["number"], truth["did"]
    else:
        customer, did = truth["expected"]["customer_number"], ""
    action_ids = [a["ActionID"] for a in truth["ami"]["actions_sent_by_driver"] if a["action"] == "Originate"]
    return scenario, CallParams(customer=customer, did=did, extensions=extensions, display_name=display_name(truth),
                                action_id=action_ids[0] if action_ids else "", **extra)


def test_every_capture_has_a_simulated_twin() -> None:
    assert sorted(CASES) == capture_names()
    assert {scenario for scenario, _ in CASES.values()} <= set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(CASES))
async def test_same_events_in_the_same_order(name: str) -> None:
    scenario, params = params_for(name)
    real = capture_frames(name)
    simulated = frames_of(await simulate(scenario, params))

    assert sequence(simulated) == sequence(real)
    assert hangups(simulated) == hangups(real)
    assert cdr_rows(simulated) == cdr_rows(real)
    assert hangup_is_last_of_its_channel(simulated)
    assert id_relations(simulated) == id_relations(real)


def _outcome(events: list[ev.AmiEvent]) -> tuple[Any, ...]:
    facts = CallTracker().feed_all(events)
    (end,) = [f for f in facts if isinstance(f, cf.CallEnded)]
    legs = [(f.extension, f.number, f.dial_status, f.answered_elsewhere) for f in facts if isinstance(f, cf.LegEnded)]
    rang = [f.extension or f.number for f in facts if isinstance(f, cf.LegRinging)]
    started = [(f.direction, f.caller, f.dialled, f.click_to_call) for f in facts if isinstance(f, cf.CallStarted)]
    return (end.direction, end.outcome, end.reason, end.answered_by, end.operator, end.customer_number,
            end.hung_up_by, end.hung_up_by_extension, end.click_to_call, legs, rang, started)


@pytest.mark.parametrize("name", sorted(CASES))
async def test_tracker_reaches_the_same_outcome(name: str) -> None:
    scenario, params = params_for(name)
    parser = FrameParser()
    simulated = ev.events_from_frames(parser.feed(await simulate(scenario, params)))
    real = capture_events(name)
    assert _outcome(simulated) == _outcome(real)

    facts = CallTracker().feed_all(simulated)
    (end,) = [f for f in facts if isinstance(f, cf.CallEnded)]
    expected = sidecar(name)["expected"]
    ring = expected.get("ring_s", expected.get("customer_ring_s"))
    assert end.ring_s is not None and abs(end.ring_s - ring) < 0.1
    assert end.talk_s is not None and abs(end.talk_s - expected["talk_s"]) < 0.1

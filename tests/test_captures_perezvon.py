"""Replays of the captures our own recording tool made from the real Asterisk 22 of the PBX tier.

Each capture in tests/fixtures/asterisk-22-perezvon (tests/pbx/ami_capture.py, `make record-captures`)
holds the raw AMI bytes perezvon's manager user received during one tier scenario, and a sidecar with
the ground truth the tier checked against perezvon's live record. Here the same bytes go through the
frame parser and the pure tracker: the facts must tell the same story, field for field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from crm import calls
from pbx_bridge import ami_events as ev
from pbx_bridge import call_facts as cf
from pbx_bridge.ami_frames import FrameParser
from pbx_bridge.call_tracker import CallTracker
from web.call_recorder import leg_result

CAPTURES = Path(__file__).parent / "fixtures" / "asterisk-22-perezvon"
NAMES = sorted(p.stem for p in CAPTURES.glob("*.json"))


def _facts(name: str) -> list[cf.CallFact]:
    parser = FrameParser()
    frames = list(parser.feed((CAPTURES / f"{name}.ami").read_bytes()))
    assert parser.stats.problems == 0 and parser.buffered == 0
    return CallTracker().feed_all(ev.events_from_frames(frames))


def _as_record(facts: list[cf.CallFact], linkedid: str) -> dict[str, Any]:
    """The tracker's facts about one call in the API's field names (what the sidecar's truth uses)."""
    [end] = [f for f in facts if isinstance(f, cf.CallEnded) and f.call_id == linkedid]
    transfers = sorted((f for f in facts if isinstance(f, cf.Transferred) and f.call_id == linkedid),
                       key=lambda f: f.seq)
    legs = [[f.extension or f.number, leg_result(f.dial_status, f.answered_elsewhere)]
            for f in facts if isinstance(f, cf.LegEnded) and f.call_id == linkedid]
    [start] = [f for f in facts if isinstance(f, cf.CallStarted) and f.call_id == linkedid]
    joined = [f for f in facts if isinstance(f, cf.QueueJoined) and f.call_id == linkedid]
    inbound = start.direction is cf.Direction.INBOUND
    pbx_talk = [f.talk_s for f in facts if isinstance(f, cf.PbxTalkTime) and f.call_id == linkedid]
    talk_s = end.talk_s if end.talk_s is not None else (pbx_talk[-1] if pbx_talk else None)
    return {
        "legs": sorted(legs),
        # What the CRM keeps of the caller's identity, through its own rules (crm/calls.py).
        "caller_name": calls.caller_name_of(start.caller_name, start.caller) if inbound else "",
        "caller_presentation": calls.caller_presentation(start.caller) if inbound else "",
        "queue": joined[0].queue if joined else "",
        "queue_position": joined[0].position if joined else None,
        # Whole seconds, as the API gives them (half up); a resynced call's is Asterisk's own (the Cdr's).
        "talk_s": None if talk_s is None else int(talk_s + 0.5),
        "direction": end.direction.value, "outcome": end.outcome.value,
        "reason": end.reason.value if end.reason else "", "answered_by": end.answered_by or "",
        "operator_extension": end.operator or "", "hung_up_by": end.hung_up_by.value if end.hung_up_by else None,
        "transfers": [{"kind": t.kind.value, "from_extension": t.from_extension or "", "target": t.target or "",
                       "taken_by": t.to or "", "result": t.result.value} for t in transfers],
    }


def test_there_are_captures() -> None:
    assert len(NAMES) >= 6, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_replay_tells_what_happened(name: str) -> None:
    sidecar = json.loads((CAPTURES / f"{name}.json").read_text(encoding="utf-8"))
    facts = _facts(name)
    for linkedid in sidecar["linkedids"]:
        record = _as_record(facts, linkedid)
        for key, want in sidecar["expected"].items():
            if key in record:
                assert record[key] == (sorted(want) if key == "legs" else want), (name, key, record)


@pytest.mark.parametrize("name", NAMES)
def test_replay_in_small_pieces_gives_the_same_facts(name: str) -> None:
    data = (CAPTURES / f"{name}.ami").read_bytes()
    parser = FrameParser()
    frames: list[object] = []
    for start in range(0, len(data), 97):
        frames.extend(parser.feed(data[start:start + 97]))
    assert CallTracker().feed_all(ev.events_from_frames(frames)) == _facts(name)


def test_a_blind_transfer_long_after_the_answer_adds_no_phantom_leg() -> None:
    """``transfer_blind_no_answer_target`` with the transfer 40 s into the talk instead of 0.4 s: Asterisk's
    BlindTransfer re-announces the customer's first Dial step (``Newexten Dial PJSIP/101``, then
    ``DIALSTATUS=ANSWER``); that is no new dial, so 101 gets no second, "unavailable", leg."""
    data = (CAPTURES / "transfer_blind_no_answer_target.ami").read_bytes()
    found = re.search(rb"Event: BlindTransfer\r\n(?:[^\r]*\r\n)*?Timestamp: ([0-9.]+)", data)
    assert found is not None
    transfer_at = float(found[1])

    def later(match: re.Match[bytes]) -> bytes:
        at = float(match[1])
        return b"Timestamp: %.6f" % (at + 40 if at >= transfer_at else at)

    shifted = re.sub(rb"Timestamp: ([0-9.]+)", later, data)
    parser = FrameParser()
    facts = CallTracker().feed_all(ev.events_from_frames(list(parser.feed(shifted))))
    [linkedid] = json.loads((CAPTURES / "transfer_blind_no_answer_target.json").read_text())["linkedids"]
    assert _as_record(facts, linkedid)["legs"] == [["101", "answered"], ["102", "no_answer"]]

"""Replays of every real Asterisk 22 capture: bytes -> frames -> events -> tracker -> facts.

Each capture's JSON sidecar holds the ground truth (the scenario was driven to a known outcome).
"""

from __future__ import annotations

from typing import Any

import pytest

from pbx_bridge import call_facts as cf
from pbx_bridge.call_tracker import CallTracker
from tests.tracker_helpers import (
    capture_events,
    capture_names,
    only,
    replay,
    sidecar,
    the_end,
    the_start,
)

TOLERANCE_S = 0.5

#: Sidecar words for a leg's result -> our LegEnded.dial_status.
_RESULTS = {"answered": "ANSWER", "cancelled": "CANCEL", "no_answer": "NOANSWER", "busy": "BUSY"}


def _hung_up_by(text: str) -> tuple[cf.HungUpBy, str | None]:
    if text.startswith("customer"):
        return cf.HungUpBy.CUSTOMER, None
    if text.startswith("operator"):
        return cf.HungUpBy.OPERATOR, text.split()[1]
    assert text.startswith("asterisk"), text
    return cf.HungUpBy.PBX, None


def _close(actual: float | None, expected: float) -> bool:
    return actual is not None and abs(actual - expected) <= TOLERANCE_S


def test_every_capture_has_a_sidecar_and_is_replayed() -> None:
    names = capture_names()
    assert len(names) == 11
    for name in names:
        assert sidecar(name)["name"] == name


@pytest.mark.parametrize("name", capture_names())
@pytest.mark.parametrize("chunk", [0, 7, 1021])
def test_capture_outcome(name: str, chunk: int) -> None:
    truth = sidecar(name)
    expected: dict[str, Any] = truth["expected"]
    facts = replay(capture_events(name, chunk))

    assert {fact.call_id for fact in facts} == {truth["linkedid"]}
    start = the_start(facts)
    end = the_end(facts)
    assert facts[0] == start and facts[-1] == end

    # Direction, caller and DID.
    if truth["direction"] == "inbound":
        assert start.direction is cf.Direction.INBOUND and not start.click_to_call
        assert start.caller == truth["caller"]["number"]
        assert start.dialled == truth["did"]
        assert end.customer_number == truth["caller"]["number"]
    elif truth["direction"] == "click_to_call":
        assert start.direction is cf.Direction.OUTBOUND and start.click_to_call
        assert start.caller == truth["caller"]["number"]
    else:
        assert truth["direction"] == "outbound"
        assert start.direction is cf.Direction.OUTBOUND and not start.click_to_call
        assert start.caller == truth["caller"]["number"]
        assert start.dialled == expected["customer_number"]

    # Outcome, who answered, why missed.
    assert end.outcome == cf.Outcome(expected["outcome"])
    assert end.reason == (cf.MissedReason(expected["reason"]) if expected["reason"] else None)
    if expected["answered_by"] == "customer":
        assert end.answered_by == expected["customer_number"]
        assert end.customer_number == expected["customer_number"]
        assert end.operator == expected["operator"]
    else:
        assert end.answered_by == expected["answered_by"]
        assert end.operator == expected["answered_by"]

    # Who hung up.
    assert (end.hung_up_by, end.hung_up_by_extension) == _hung_up_by(expected["hung_up_by"])

    # Durations.
    ring = expected.get("ring_s", expected.get("customer_ring_s"))
    assert isinstance(ring, int | float)
    assert _close(end.ring_s, ring), (end.ring_s, ring)
    assert _close(end.talk_s, expected["talk_s"]), (end.talk_s, expected["talk_s"])

    # Who rang, for how long, with what result.
    legs = [fact for fact in only(facts, cf.LegEnded) if fact.extension is not None]
    assert [leg.extension for leg in legs] == [op["operator"] for op in truth["operators_expected"]]
    for leg, op in zip(legs, truth["operators_expected"], strict=True):
        assert leg.dial_status == _RESULTS[op["result"].split()[0]], (leg, op)
        assert _close(leg.ring_s, op["rang_s"]), (leg, op)
        assert leg.answered_elsewhere == ("answered elsewhere" in op["result"])
    if "missed_legs_that_are_not_missed_calls" in expected:
        not_missed = [leg.extension for leg in legs if leg.answered_elsewhere]
        assert not_missed == expected["missed_legs_that_are_not_missed_calls"]

    # A leg is reported ringing before it is answered or ends, and each at most once.
    ringing = [fact.channel for fact in only(facts, cf.LegRinging)]
    assert len(ringing) == len(set(ringing))
    for fact in only(facts, cf.LegAnswered):
        assert fact.channel in ringing[: ringing.index(fact.channel) + 1]


def test_click_to_call_operator_rings_first_then_customer() -> None:
    facts = replay(capture_events("click_to_call_answered"))
    legs = [(type(f).__name__, f.extension, f.number) for f in facts if isinstance(f, cf.LegFact)]
    assert legs == [
        ("LegRinging", "101", None), ("LegAnswered", "101", None),
        ("LegRinging", None, "79161110013"), ("LegAnswered", None, "79161110013"),
        ("LegEnded", None, "79161110013"), ("LegEnded", "101", None),
    ]


def test_queue_facts() -> None:
    facts = replay(capture_events("queue_answered"))
    assert [(f.queue, f.position) for f in only(facts, cf.QueueJoined)] == [("sales", 1)]
    assert [f.extension for f in only(facts, cf.AgentCalled)] == ["101", "102"]
    connected = only(facts, cf.AgentConnected)
    assert [(f.extension, f.ring_s, f.hold_s) for f in connected] == [("102", 2.0, 2.0)]

    facts = replay(capture_events("queue_abandoned"))
    abandoned = only(facts, cf.QueueAbandoned)
    assert [(f.queue, f.hold_s, f.timed_out) for f in abandoned] == [("sales", 4.0, False)]


@pytest.mark.parametrize("name", capture_names())
def test_replay_is_deterministic(name: str) -> None:
    events = capture_events(name)
    first = replay(events)
    assert replay(events) == first
    # The same tracker fed the capture twice: FullyBooted at its start resets, the facts repeat.
    tracker = CallTracker()
    assert tracker.feed_all(events) == first
    assert tracker.feed_all(events) == first
    assert tracker.live_call_ids == [] and tracker.live_channel_count == 0
    assert tracker.stats.unknown_channel_events == 0


def test_byte_by_byte_feed_gives_the_same_facts() -> None:
    name = "inbound_ringall_two_operators"
    assert replay(capture_events(name, 1)) == replay(capture_events(name))

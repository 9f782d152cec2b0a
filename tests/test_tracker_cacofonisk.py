"""Replays of cacofonisk's recorded event streams (Asterisk 13, chan_sip, Local channels).

They check the tracker on another PBX's dialect: Local-channel chains between caller and phone,
originates through Local channels, out-of-order events, no timestamps and no VarSet/HangupRequest
(the streams are pre-filtered). Each stream is checked twice: against an explicit table of our
facts, and against the report sequence cacofonisk's own tests expect (``SCENARIOS.txt``).

How their reports map to our facts:

* ``on_b_dial`` (a B leg starts ringing) -> one ``LegRinging`` per leg, except the operator's own
  phone ringing first in a click-to-call (the originate leg), which cacofonisk does not report.
  A leg answered without a ``Ringing`` state (``ctd-account-world-no-ringing``) still counts as rung.
* ``on_up`` -> the call is ``answered`` (one ``on_up`` per call).
* ``on_hangup(reason)`` -> ``CallEnded``; reason names: ``completed`` -> answered, ``no-answer`` ->
  ``no_answer``, ``busy`` -> ``busy``, ``cancelled`` -> ``abandoned``, ``rejected`` -> ``rejected``.
  Exception: cacofonisk says ``completed`` whenever the caller's channel was up, even if only the
  PBX answered it and no person did (``a_created_no_answer``: an IVR hang-up; ``queue_a_cancel``:
  the caller left the queue, also reported as ``on_queue_caller_abandon``). For us nobody
  answered, so those are missed, ``abandoned``.
* An empty report list (``ctd-account-world-deny-a``: the operator's own phone refused the
  click-to-call; ``cmn-world-world-unaccepted``: the first party answered, the second was never
  dialled) -> cacofonisk stays silent; we report a missed click-to-call (``busy``; ``abandoned``).
"""

from __future__ import annotations

import re

import pytest

from pbx_bridge import call_facts as cf
from tests.tracker_helpers import CACOFONISK, CACOFONISK_SETTINGS, cacofonisk_events, only, replay

A, M = cf.Outcome.ANSWERED, cf.Outcome.MISSED
R = cf.MissedReason

#: file -> (ended calls as (outcome, reason, answered_by), legs that rang in order (originate legs included)).
EXPECTED: dict[str, tuple[list[tuple[cf.Outcome, cf.MissedReason | None, str | None]], list[str]]] = {
    "simple/ab_success_a_hangup.json": ([(A, None, "150010002")], ["150010002"]),
    "simple/ab_success_b_hangup.json": ([(A, None, "150010002")], ["150010002"]),
    "simple/ab_success_twoclients.json": (
        [(A, None, "+31150010001"), (A, None, "150010001")], ["+31150010001", "150010001"]),
    "simple/ab_reject.json": ([(M, R.BUSY, None)], ["150010002"]),
    "simple/ab_dnd.json": ([(M, R.BUSY, None)], []),
    "simple/ab_a_cancel.json": ([(M, R.ABANDONED, None)], ["150010002"]),
    "simple/ab_callgroup.json": ([(A, None, "150010002")], ["150010002", "150010003"]),
    "simple/ab_callgroup_no_answer.json": ([(M, R.NO_ANSWER, None)], ["150010002", "150010003"]),
    "simple/ab_success_o3.json": ([(A, None, "100060002")], ["100060002"]),
    "simple/a_created_no_answer.json": ([(M, R.ABANDONED, None)], []),
    "originate/ctd-account-account.json": ([(A, None, "150010002")], ["150010001", "150010002"]),
    "originate/ctd-account-world.json": ([(A, None, "+31260010001")], ["150010001", "+31260010001"]),
    "originate/ctd-account-world-deny-a.json": ([(M, R.BUSY, None)], ["150010001"]),
    "originate/ctd-account-world-deny-b.json": ([(M, R.BUSY, None)], ["150010001", "+31260010001"]),
    "originate/ctd-account-world-no-ringing.json": (
        [(A, None, "+31260010001")], ["150010063", "+31260010001"]),
    "originate/cmn-world-world.json": ([(A, None, "+31150010001")], ["+31260010001", "+31150010001"]),
    "originate/cmn-world-world-unaccepted.json": ([(M, R.ABANDONED, None)], ["+31260010001"]),
    "queue/queue_simple.json": ([(A, None, "150010002")], ["150010002"]),
    "queue/queue_group.json": ([(A, None, "150010002")], ["150010003", "150010002"]),
    "queue/queue_a_cancel.json": ([(M, R.ABANDONED, None)], ["150010002"]),
}

_THEIR_REASONS = {
    "no-answer": (M, R.NO_ANSWER), "busy": (M, R.BUSY), "cancelled": (M, R.ABANDONED),
    "rejected": (M, R.REJECTED), "completed": (A, None),
}


def _scenarios() -> dict[str, list[str]]:
    """SCENARIOS.txt: file (relative to the fixture folder) -> cacofonisk's expected reports."""
    result: dict[str, list[str]] = {}
    for line in (CACOFONISK / "SCENARIOS.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        parts = line.split("|")
        path = parts[0].split()[1].removeprefix("fixtures/")
        result[path] = [r.strip() for r in parts[-1].split(">") if r.strip()]
    return result


def test_every_stream_is_covered() -> None:
    on_disk = {str(p.relative_to(CACOFONISK)) for p in CACOFONISK.glob("*/*.json")}
    assert on_disk == set(EXPECTED) == set(_scenarios())
    assert (CACOFONISK / "LICENSE").is_file()


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_stream_facts(relative: str) -> None:
    calls, rang = EXPECTED[relative]
    facts = replay(cacofonisk_events(relative), CACOFONISK_SETTINGS)
    ended = only(facts, cf.CallEnded)
    assert [(e.outcome, e.reason, e.answered_by) for e in ended] == calls
    assert [f.extension or f.number for f in only(facts, cf.LegRinging)] == rang
    assert len(only(facts, cf.CallStarted)) == len(calls)
    # Every fact belongs to a call that started and ended.
    assert {f.call_id for f in facts} == {e.call_id for e in ended}


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_stream_agrees_with_cacofonisk(relative: str) -> None:
    reports = _scenarios()[relative]
    facts = replay(cacofonisk_events(relative), CACOFONISK_SETTINGS)
    started = {f.call_id: f for f in only(facts, cf.CallStarted)}
    ended = only(facts, cf.CallEnded)

    # on_b_dial: legs that rang, not counting the operator's own originate ring.
    originate_legs = set()
    for call_id, start in started.items():
        if start.click_to_call:
            first = next(f for f in facts if isinstance(f, cf.LegRinging) and f.call_id == call_id)
            originate_legs.add(first.channel)
    b_legs = [f for f in only(facts, cf.LegRinging) if f.channel not in originate_legs]
    assert len(b_legs) == reports.count("on_b_dial")

    # on_up: answered calls.
    assert sum(e.outcome is A for e in ended) == reports.count("on_up")

    # on_hangup(reason): the call's outcome, with the documented "completed but nobody answered" cases.
    their = [re.fullmatch(r"on_hangup\((.+)\)", r) for r in reports]
    their_reasons = [m.group(1) for m in their if m]
    if not their_reasons:
        assert relative in {"originate/ctd-account-world-deny-a.json", "originate/cmn-world-world-unaccepted.json"}
        assert all(e.outcome is M and e.click_to_call for e in ended)
        return
    assert len(their_reasons) == len(ended)
    for reason, end in zip(their_reasons, ended, strict=True):
        outcome, ours = _THEIR_REASONS[reason]
        if reason == "completed" and "on_up" not in reports:
            outcome, ours = M, R.ABANDONED
        assert (end.outcome, end.reason) == (outcome, ours)
    if "on_queue_caller_abandon" in reports:
        assert [f.timed_out for f in only(facts, cf.QueueAbandoned)] == [False]


def test_local_channels_are_not_legs() -> None:
    facts = replay(cacofonisk_events("simple/ab_callgroup.json"), CACOFONISK_SETTINGS)
    assert all(not f.channel.startswith("Local/") for f in facts if isinstance(f, cf.LegFact))
    start = only(facts, cf.CallStarted)[0]
    assert (start.direction, start.caller, start.dialled) == (cf.Direction.INTERNAL, "150010001", "401")


def test_out_of_order_ringing_before_dial_begin() -> None:
    """In ab_success_o3 the phone's Newstate Ringing precedes the DialBegin that created its leg."""
    facts = replay(cacofonisk_events("simple/ab_success_o3.json"), CACOFONISK_SETTINGS)
    names = [type(f).__name__ for f in facts]
    assert names == ["CallStarted", "LegRinging", "LegAnswered", "LegEnded", "CallEnded"]

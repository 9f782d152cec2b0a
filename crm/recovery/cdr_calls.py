"""Asterisk's CDR rows of one call -> that call's record, for calls the bridge did not see live.

Pure: rows in (as cdr_pgsql wrote them into `pbx_cdr`), the CRM's own inputs out (`crm.calls.CallStart`,
`LegEvent`, `CallEnd`), so recovered calls go through the same upserts as live ones. Asterisk 22 writes
one CDR per caller/destination pair (party A / party B): an inbound call has one row per phone it rang
(per queue round, too), an outbound call one row for the trunk leg; with `unanswered = yes` a call that
reached no phone (voicemail straight away, the caller gone during routing) has one row with no
destination channel. What the rules below rest on was seen in the rows the real Asterisk wrote in the PBX
tier (tests/fixtures/cdr-pgsql/):

* times are epoch seconds (float columns); `start` of the first row is when the caller's channel was
  created; each later row starts when that ring began; `answer` is NULL when the pair never answered;
* a ring-all loser is `NO ANSWER` ending at the very moment the winner answered (answered elsewhere);
* a `NO ANSWER` ring that ends when the whole call ends was cut by the caller hanging up (cancelled) -
  except a ring refused at once (a busy phone rung by the queue ends `NO ANSWER` within milliseconds);
* the PBX answering (VoiceMail) leaves `ANSWERED` with no destination: that is not a person;
* what the caller did after the last ring (waiting in the queue, hanging up) leaves no row, so a missed
  call's waiting time ends at its last ring, and who hung up is not known (CDR does not say).

Missed reasons follow the live tracker's (pbx_bridge/call_outcome.py) for the same calls, from the last
thing the call did: a ring still going when it ended -> abandoned; voicemail after the queue -> the queue
timed out; otherwise the dial statuses (no answer before busy before failed); nothing rung -> abandoned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from crm.calls import CallEnd, CallStart, LegEvent, QueueEvent
from crm.models import CallDirection, LegResult

#: Endpoint names of operator phones (asterisk-conf/pjsip.conf: 101..105), as the tracker's default.
OPERATOR_ENDPOINT = re.compile(r"\d{2,6}")
SIP_TECHNOLOGIES = frozenset({"PJSIP", "SIP"})
#: A web softphone's leg, ``AudioSocket/<server>-<uuid>`` whose UUID ends in the extension padded with "f"
#: (the rule of pbx_bridge/audiosocket/legs.py, which crm may not import; tests/test_softphone_legs.py
#: checks that both read every channel alike).
_SOFTPHONE_CHANNEL = re.compile(r"AudioSocket/.+-[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-(?=[fF0-9]{12}$)[fF]+([0-9]+)",
                               re.IGNORECASE)
#: extensions.conf: inbound calls start here; click-to-call (AMI Originate) runs here.
INBOUND_CONTEXT = "from-trunk"
ORIGINATE_CONTEXT = "perezvon-originate"
#: Two CDR moments this close are the same moment (a loser's end and the winner's answer are equal).
SAME_MOMENT_S = 0.25
#: A ring shorter than this was refused, not cut by the caller (a busy queue member: 4-6 ms seen).
REFUSED_RING_S = 0.1

Party = Literal["operator", "trunk", "other", "none"]

#: CDR disposition -> (leg result, Asterisk dial status as the live legs store it).
_DISPOSITIONS: dict[str, tuple[LegResult, str]] = {
    "ANSWERED": ("answered", "ANSWER"), "NO ANSWER": ("no_answer", "NOANSWER"), "BUSY": ("busy", "BUSY"),
    "FAILED": ("failed", "FAILED"), "CONGESTION": ("failed", "CONGESTION"),
}
#: Dial results that say why nobody answered, strongest first (as the tracker's dial statuses).
_REASONS: tuple[tuple[LegResult, str], ...] = (("no_answer", "no_answer"), ("busy", "busy"), ("failed", "failed"))


@dataclass(frozen=True)
class CdrRow:
    """One `pbx_cdr` row (the columns the mapping reads)."""

    linkedid: str
    uniqueid: str
    sequence: int | None
    start: float | None
    answer: float | None
    end: float | None
    disposition: str
    src: str
    dst: str
    dcontext: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> CdrRow:
        """From a database record or a JSON fixture; missing text is '', missing times None."""
        def num(name: str) -> float | None:
            value = row.get(name)
            return None if value is None else float(value)
        sequence = row.get("sequence")
        return cls(
            linkedid=str(row.get("linkedid") or ""), uniqueid=str(row.get("uniqueid") or ""),
            sequence=None if sequence is None else int(sequence), start=num("start"),
            answer=num("answer") or None, end=num("end"), disposition=str(row.get("disposition") or "").upper(),
            src=str(row.get("src") or ""), dst=str(row.get("dst") or ""), dcontext=str(row.get("dcontext") or ""),
            channel=str(row.get("channel") or ""), dstchannel=str(row.get("dstchannel") or ""),
            lastapp=str(row.get("lastapp") or ""), lastdata=str(row.get("lastdata") or ""))


@dataclass(frozen=True)
class RecoveredCall:
    """What the CDR rows say about one call, as the CRM's inputs, in the order to write them."""

    linkedid: str
    start: CallStart
    legs: tuple[LegEvent, ...]
    queue: QueueEvent | None
    end: CallEnd
    #: The last moment any row knows of (epoch seconds): the call is over by then.
    ended_at: float


def party_of(channel: str) -> tuple[Party, str]:
    """'PJSIP/101-0000000b' -> ('operator', '101'); a trunk, Local or other channel; '' -> ('none', '')."""
    if not channel:
        return "none", ""
    softphone = _SOFTPHONE_CHANNEL.fullmatch(channel)
    if softphone:
        return "operator", softphone.group(1)
    tech, _, rest = channel.partition("/")
    endpoint = rest.rsplit("-", 1)[0] if "-" in rest else rest
    if tech.upper() not in SIP_TECHNOLOGIES:
        return "other", endpoint
    return ("operator" if OPERATOR_ENDPOINT.fullmatch(endpoint) else "trunk"), endpoint


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _span(first: float | None, last: float | None) -> float:
    return 0.0 if first is None or last is None else max(0.0, last - first)


@dataclass(frozen=True)
class _Leg:
    row: CdrRow
    party: Party
    endpoint: str

    @property
    def answered(self) -> bool:
        return self.row.disposition == "ANSWERED" and self.row.answer is not None


def _leg_event(leg: _Leg, state: str, at: float, *, ring_s: float | None = None, dial_status: str = "",
               result: LegResult | None = None) -> LegEvent:
    return LegEvent(linkedid=leg.row.linkedid, at=_moment(at), channel=leg.row.dstchannel,
                    extension=leg.endpoint if leg.party == "operator" else None,
                    number=leg.row.dst if leg.party == "trunk" else None, state=state, ring_s=ring_s,
                    dial_status=dial_status, result=result)


def _direction(first: CdrRow, legs: list[_Leg]) -> CallDirection:
    kind, _ = party_of(first.channel)
    if kind == "trunk" or first.dcontext == INBOUND_CONTEXT:
        return "inbound"
    if first.dcontext == ORIGINATE_CONTEXT or any(leg.party == "trunk" for leg in legs):
        return "outbound"
    if not legs and first.dst.lstrip("+").isdigit() and not OPERATOR_ENDPOINT.fullmatch(first.dst):
        return "outbound"
    return "internal"


def _leg_result(leg: _Leg, answered: _Leg | None, call_end: float) -> tuple[LegResult, str]:
    result, status = _DISPOSITIONS.get(leg.row.disposition, ("failed", leg.row.disposition[:32] or "FAILED"))
    if result != "no_answer" or leg.row.end is None:
        return result, status
    if answered is not None and answered.row.answer is not None:
        if abs(leg.row.end - answered.row.answer) <= SAME_MOMENT_S:
            return "answered_elsewhere", "CANCEL"
        return result, status
    if abs(leg.row.end - call_end) <= SAME_MOMENT_S and _span(leg.row.start, leg.row.end) >= REFUSED_RING_S:
        return "cancelled", "CANCEL"
    return result, status


def _missed_reason(rows: list[CdrRow], legs: list[_Leg], results: dict[str, LegResult]) -> str:
    final = max(rows, key=lambda r: (r.end or 0.0, r.sequence or 0))
    final_party, _ = party_of(final.dstchannel)
    if final_party == "none" and final.lastapp.lower() == "voicemail" and any(r.lastapp == "Queue" for r in rows):
        return "queue_timeout"
    if final_party in ("operator", "trunk"):
        result = results.get(final.dstchannel)
        if result in ("cancelled", "no_answer"):
            return "abandoned"  # the call ended while this phone still rang
        return "busy" if result == "busy" else "failed"
    seen = set(results.values())
    for result, reason in _REASONS:
        if result in seen:
            return reason
    return "abandoned"


def recover_call(rows: Iterable[CdrRow]) -> RecoveredCall | None:
    """The call record of one Linkedid's CDR rows; None when the rows carry no times to build it from."""
    ordered = sorted((r for r in rows if r.start is not None and r.end is not None),
                     key=lambda r: (r.start or 0.0, r.sequence or 0))
    if not ordered:
        return None
    first = ordered[0]
    linkedid = first.linkedid
    legs = [_Leg(r, *party_of(r.dstchannel)) for r in ordered]
    legs = [leg for leg in legs if leg.party in ("operator", "trunk")]
    direction = _direction(first, legs)
    click_to_call = first.dcontext == ORIGINATE_CONTEXT
    person = "trunk" if direction == "outbound" else "operator"
    answered = min((leg for leg in legs if leg.party == person and leg.answered),
                   key=lambda leg: leg.row.answer or 0.0, default=None)
    call_start = min(r.start or 0.0 for r in ordered)
    call_end = max(r.end or 0.0 for r in ordered)

    events: list[LegEvent] = []
    results: dict[str, LegResult] = {}
    for leg in legs:
        row = leg.row
        result, status = _leg_result(leg, answered, call_end)
        results[row.dstchannel] = result
        events.append(_leg_event(leg, "ringing", row.start or call_start))
        if leg.answered and row.answer is not None:
            events.append(_leg_event(leg, "answered", row.answer, ring_s=_span(row.start, row.answer)))
        events.append(_leg_event(leg, "ended", row.end or call_end,
                                 ring_s=_span(row.start, row.answer if leg.answered else row.end),
                                 dial_status=status, result=result))

    first_party, first_endpoint = party_of(first.channel)
    operator_ext = first_endpoint if first_party == "operator" else None
    trunk_leg = next((leg for leg in legs if leg.party == "trunk"), None)
    if direction == "inbound":
        caller: str | None = first.src
        dialled: str | None = next((r.dst.lstrip("+") for r in ordered if r.dst and r.dst != "s"), None)
        customer: str | None = first.src
        operator = answered.endpoint if answered else None
    else:
        caller = operator_ext or first.src
        customer = trunk_leg.row.dst if trunk_leg else (first.dst if direction == "outbound" else None)
        dialled = customer if direction == "outbound" else first.dst
        operator = operator_ext
    answered_by = None
    if answered is not None:
        answered_by = answered.row.dst if answered.party == "trunk" else answered.endpoint
    ring_from = trunk_leg.row.start if click_to_call and trunk_leg else call_start
    start = CallStart(linkedid=linkedid, at=_moment(call_start), direction=direction, caller=caller,
                      dialled=dialled, click_to_call=click_to_call)
    end = CallEnd(
        linkedid=linkedid, at=_moment(call_end), direction=direction,
        outcome="answered" if answered else "missed",
        reason="" if answered else _missed_reason(ordered, legs, results),
        answered_by=answered_by, operator=operator, customer_number=customer, hung_up_by=None,
        hung_up_by_extension=None,
        ring_s=_span(ring_from, answered.row.answer if answered else call_end),
        talk_s=_span(answered.row.answer, call_end) if answered else 0.0, click_to_call=click_to_call)
    queue_row = next((r for r in ordered if r.lastapp == "Queue" and r.lastdata), None)
    queue = None
    if queue_row is not None:
        queue = QueueEvent(linkedid=linkedid, at=_moment(queue_row.start or call_start),
                           queue=queue_row.lastdata.split(",", 1)[0])
    return RecoveredCall(linkedid=linkedid, start=start, legs=tuple(events), queue=queue, end=end,
                         ended_at=call_end)


def recover_calls(rows: Iterable[CdrRow]) -> list[RecoveredCall]:
    """Every call of these rows (grouped by Linkedid), in the order they started."""
    by_call: dict[str, list[CdrRow]] = {}
    for row in rows:
        if row.linkedid:
            by_call.setdefault(row.linkedid, []).append(row)
    recovered = [call for call in map(recover_call, by_call.values()) if call is not None]
    return sorted(recovered, key=lambda call: call.start.at)

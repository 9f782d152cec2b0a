"""The rules that turn a finished call's state into its outcome: answered or missed, and why.

Separate from the event handlers because these are the business-visible decisions (a missed call
creates a callback task), and each rule comes from something seen in real Asterisk 22 traffic:

* answered means a person picked up: an operator leg for inbound/internal calls, the customer's
  leg for outbound and click-to-call (the operator answering their own originate ring is not it);
* a ring-all loser or a queue member not picked (DialEnd CANCEL) does not make the call missed;
* a queue timeout also sends QueueCallerAbandon: ``VarSet QUEUESTATUS=TIMEOUT`` tells them apart;
* an unregistered operator gives no leg at all, only ``VarSet DIALSTATUS=CHANUNAVAIL``;
* the caller's own ``HangupRequest`` before any dial failed means they gave up (abandoned);
* ``HangupRequest`` marks who hung up; ``SoftHangupRequest`` alone means Asterisk did.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pbx_bridge.call_facts import CallEnded, CallStarted, Direction, HungUpBy, MissedReason, Outcome
from pbx_bridge.tracker_state import CallState, ChannelClassifier, LegState, PartyKind

#: Dial statuses that end a dial without an answer, strongest first: with a ring-all where one phone
#: was busy and one timed out, the call went unanswered ("no answer"), as Asterisk's DIALSTATUS says.
_STATUS_REASONS: tuple[tuple[str, MissedReason], ...] = (
    ("NOANSWER", MissedReason.NO_ANSWER),
    ("BUSY", MissedReason.BUSY),
    ("CHANUNAVAIL", MissedReason.UNAVAILABLE),
    ("CONGESTION", MissedReason.FAILED),
    ("DONTCALL", MissedReason.REJECTED),
    ("TORTURE", MissedReason.REJECTED),
    # Dial option U: the answered phone's screening (a duty mobile's "press 1") did not accept the call.
    ("CONTINUE", MissedReason.REJECTED),
    ("ABORT", MissedReason.REJECTED),
    ("INVALIDARGS", MissedReason.FAILED),
)
_FAILURES = frozenset(status for status, _ in _STATUS_REASONS)

#: Q.850 causes of the caller's channel, used only when no dial status says more.
_CAUSE_REASONS: Mapping[int, MissedReason] = MappingProxyType({
    0: MissedReason.ABANDONED,
    16: MissedReason.ABANDONED,
    127: MissedReason.ABANDONED,
    17: MissedReason.BUSY,
    18: MissedReason.NO_ANSWER,
    19: MissedReason.NO_ANSWER,
    21: MissedReason.REJECTED,
    1: MissedReason.UNAVAILABLE,
    3: MissedReason.UNAVAILABLE,
    20: MissedReason.UNAVAILABLE,
    27: MissedReason.UNAVAILABLE,
})
_CAUSE_CALL_REJECTED = 21


def resolve_direction(call: CallState, classifier: ChannelClassifier, *, force: bool) -> Direction | None:
    """The call's direction, or None while it cannot be told yet (and ``force`` is False)."""
    if call.first_party.kind is PartyKind.TRUNK:
        return Direction.INBOUND
    if call.click_to_call:
        return Direction.OUTBOUND
    legs = call.customer_legs()
    if legs:
        return Direction.OUTBOUND if legs[0].party.kind is PartyKind.TRUNK else Direction.INTERNAL
    if not force:
        return None
    exten = call.first_exten
    if call.first_party.kind is PartyKind.OPERATOR and exten and not classifier.is_operator_number(exten):
        if exten.lstrip("+").isdigit():
            return Direction.OUTBOUND
    return Direction.INTERNAL


def call_started(call: CallState, direction: Direction) -> CallStarted:
    if direction is Direction.INBOUND:
        caller: str | None = call.first_caller_num or None
    else:
        caller = call.first_party.extension or call.first_caller_num or None
    dialled: str | None = None
    if not call.click_to_call:
        dialled = call.first_exten if call.first_exten not in ("", "s") else None
        if dialled is None and call.customer_legs():
            first = call.customer_legs()[0]
            dialled = first.party.extension or first.number
    return CallStarted(
        call_id=call.call_id, at=call.started_at, direction=direction, caller=caller, dialled=dialled,
        click_to_call=call.click_to_call, resynced=call.resynced,
        caller_name=call.first_caller_name if direction is Direction.INBOUND else "",
    )


def _span(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, end - start)


def missed_reason(call: CallState) -> MissedReason:
    failures = [(status, at) for status, at in call.dial_statuses if status in _FAILURES]
    first_failure_at = failures[0][1] if failures else None
    if call.queue_timeout and not (
        call.caller_hung_up and _before(call.caller_hangup_at, call.queue_timeout_at)
    ):
        return MissedReason.QUEUE_TIMEOUT
    if call.answered_leg is not None and not call.caller_up:
        return MissedReason.REJECTED
    caller_gave_up = call.caller_hung_up and (not failures or _before(call.caller_hangup_at, first_failure_at))
    if caller_gave_up or call.queue_abandoned:
        return MissedReason.ABANDONED
    seen = {status for status, _ in failures}
    for status, reason in _STATUS_REASONS:
        if status in seen:
            if reason is MissedReason.BUSY and _all_rejected(call):
                return MissedReason.REJECTED
            return reason
    if any(status == "CANCEL" for status, _ in call.dial_statuses):
        # A dial cancelled with nobody answering: the caller hung up while it rang.
        return MissedReason.ABANDONED
    if call.first_hangup_cause is not None:
        return _CAUSE_REASONS.get(call.first_hangup_cause, MissedReason.FAILED)
    return MissedReason.ABANDONED


def _before(first: float | None, second: float | None) -> bool:
    return first is not None and second is not None and first <= second


def _all_rejected(call: CallState) -> bool:
    busy = [leg for leg in call.legs.values() if leg.dial_status == "BUSY"]
    return bool(busy) and all(leg.hangup_cause == _CAUSE_CALL_REJECTED for leg in busy)


def _hung_up_by(call: CallState) -> tuple[HungUpBy | None, str | None]:
    for party in reversed(call.hangup_requests):
        if party.kind is PartyKind.TRUNK:
            return HungUpBy.CUSTOMER, None
        if party.kind is PartyKind.OPERATOR:
            return HungUpBy.OPERATOR, party.endpoint
    if call.soft_hangup_seen:
        return HungUpBy.PBX, None
    return None, None


def _party_label(leg: LegState) -> str | None:
    return leg.party.extension or leg.number


def call_ended(call: CallState, direction: Direction) -> CallEnded:
    answered = call.legs.get(call.answered_leg) if call.answered_leg else None
    if answered is not None and not call.caller_up:
        # The leg answered but the caller was never connected: screening that refused ("press 1 to
        # accept"), a duty mobile whose voicemail picked up behind a Local channel and hung up...
        answered = None
    customer_legs = call.customer_legs()
    if call.click_to_call and customer_legs:
        ring_from = customer_legs[0].began_at
    else:
        ring_from = call.started_at
    originate = next((leg for leg in call.legs.values() if leg.originate_leg), None)
    if direction is Direction.INBOUND:
        operator = answered.party.extension if answered else None
        customer: str | None = call.first_caller_num or None
    else:
        operator = call.first_party.extension or (originate.party.extension if originate else None)
        trunk_leg = next((leg for leg in customer_legs if leg.party.kind is PartyKind.TRUNK), None)
        customer = trunk_leg.number if trunk_leg else None
        if customer is None and direction is Direction.OUTBOUND and not call.click_to_call:
            customer = call.first_exten or None
    # Whoever took the last transfer ended up with the customer: the call (its callback, its
    # recording) is theirs; ``answered_by`` keeps who answered first.
    operator = next((t.taken_by_extension for t in reversed(call.transfers) if t.taken_by_extension), operator)
    who, who_ext = _hung_up_by(call)
    if answered is not None:
        answered_at = call.answered_at
        if answered_at is None and call.pbx_talk_s is not None and call.ended_at is not None:
            # Answered before the bridge looked (a resync): Asterisk's own talk time says when.
            answered_at = call.ended_at - call.pbx_talk_s
        return CallEnded(
            call_id=call.call_id, at=call.ended_at, direction=direction, outcome=Outcome.ANSWERED, reason=None,
            answered_by=_party_label(answered), operator=operator, customer_number=customer,
            hung_up_by=who, hung_up_by_extension=who_ext, ring_s=_span(ring_from, answered_at),
            talk_s=_span(answered_at, call.ended_at), click_to_call=call.click_to_call,
        )
    return CallEnded(
        call_id=call.call_id, at=call.ended_at, direction=direction, outcome=Outcome.MISSED,
        reason=missed_reason(call), answered_by=None, operator=operator, customer_number=customer,
        hung_up_by=who, hung_up_by_extension=who_ext, ring_s=_span(ring_from, call.ended_at), talk_s=0.0,
        click_to_call=call.click_to_call,
    )

"""Call facts: what the call tracker tells the rest of the service about calls.

Facts are small frozen dataclasses keyed by the call id (Asterisk's ``Linkedid``, the same for
every leg of one call) and carrying the time of the AMI event that produced them, so a consumer
can write them idempotently and a replay gives the same facts. They speak the domain's words
(operator extension, customer number, missed reason), not AMI's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class Outcome(StrEnum):
    ANSWERED = "answered"
    MISSED = "missed"


class MissedReason(StrEnum):
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    ABANDONED = "abandoned"
    QUEUE_TIMEOUT = "queue_timeout"
    UNAVAILABLE = "unavailable"
    REJECTED = "rejected"
    FAILED = "failed"


class HungUpBy(StrEnum):
    CUSTOMER = "customer"
    OPERATOR = "operator"
    PBX = "pbx"


class TransferKind(StrEnum):
    BLIND = "blind"
    ATTENDED = "attended"


@dataclass(frozen=True, slots=True, kw_only=True)
class Fact:
    #: Asterisk's Linkedid of the call.
    call_id: str
    #: Epoch seconds of the event behind the fact; ``None`` when the stream carries no time.
    at: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStarted(Fact):
    direction: Direction
    #: Customer number (inbound) or calling operator's extension (outbound, internal).
    caller: str | None
    #: The DID (inbound) or the number/extension dialled (outbound, internal); None if not known yet.
    dialled: str | None
    click_to_call: bool = False
    #: True when the call was first seen through a CoreShowChannels resync (started before we looked).
    resynced: bool = False
    #: The caller-ID name on the first channel as Asterisk holds it (AMI's escapes undone); "" if none.
    caller_name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LegFact(Fact):
    """A leg is one device the call tried: an operator's phone or an external number via the trunk."""

    channel: str
    #: The operator's extension; None for a leg to an external number.
    extension: str | None
    #: The external number for a trunk leg; None for an operator leg.
    number: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LegRinging(LegFact):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class LegAnswered(LegFact):
    ring_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LegEnded(LegFact):
    #: Asterisk's DialStatus for the leg: ANSWER, NOANSWER, BUSY, CANCEL, CONGESTION, CHANUNAVAIL...
    dial_status: str
    #: From the dial to its answer or end.
    ring_s: float | None
    #: The ring-all loser / queue member not picked: it rang, but the call was not missed.
    answered_elsewhere: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueJoined(Fact):
    queue: str
    #: The caller's place in the queue on joining (1 = next); ``count`` callers waiting with them.
    position: int | None
    count: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueLeft(Fact):
    """The caller left the waiting list: a member answered, they gave up, or the queue timed out."""

    queue: str
    #: Their place at that moment.
    position: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueAbandoned(Fact):
    queue: str
    position: int | None
    hold_s: float | None
    #: Asterisk reports a queue timeout as an abandon too; this says which it was.
    timed_out: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentCalled(Fact):
    queue: str
    extension: str | None
    member_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConnected(Fact):
    queue: str
    extension: str | None
    ring_s: float | None
    hold_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentRingNoAnswer(Fact):
    queue: str
    extension: str | None
    ring_s: float | None


class TransferResult(StrEnum):
    #: Someone took the call: ``to`` says who.
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    #: The target could not be rung (unregistered, congested) or the transfer failed in Asterisk.
    FAILED = "failed"
    #: The call ended before anyone took it (the customer hung up while the target rang).
    ABANDONED = "abandoned"


@dataclass(frozen=True, slots=True, kw_only=True)
class Transferred(Fact):
    """One transfer, reported once it is settled: taken by someone, or given up.

    ``at`` is when the transfer was made; ``seq`` numbers a call's transfers in order (1, 2, ...).
    """

    kind: TransferKind
    #: The operator who transferred.
    from_extension: str | None
    #: The person who took the call (operator extension or external number), not the number dialled;
    #: None when nobody did.
    to: str | None
    #: What was dialled: the extension, group or number the transfer was sent to, when known.
    target: str | None = None
    result: TransferResult = TransferResult.COMPLETED
    seq: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded(Fact):
    direction: Direction
    outcome: Outcome
    #: Set for missed calls only.
    reason: MissedReason | None
    #: Operator extension (inbound, internal) or the external number (outbound) that answered first.
    answered_by: str | None
    #: The operator the call belongs to: who ended up with the customer (the last transfer taken),
    #: else who answered an inbound call / placed an outbound one.
    operator: str | None
    #: The customer's number: the caller (inbound) or the number dialled (outbound).
    customer_number: str | None
    hung_up_by: HungUpBy | None
    #: Extension of the operator who hung up, when ``hung_up_by`` is OPERATOR.
    hung_up_by_extension: str | None
    #: Waiting time: until answer, or the whole call when missed (click-to-call: from the customer dial).
    ring_s: float | None
    talk_s: float | None
    click_to_call: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PbxTalkTime(Fact):
    """The talk time Asterisk measured for a call answered before the bridge looked (a resync): its Cdr came
    after the call's end was reported. ``at`` is when the call ended."""

    talk_s: float


class LostReason(StrEnum):
    # Calls Asterisk no longer has after a login are not reported one by one: LiveCallsResynced lists
    # the live ones, and the record's side closes the rest.
    #: No Hangup arrived within the tracker's bound (``TrackerSettings.stale_call_s``).
    STALE = "stale"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallLost(Fact):
    """The bridge will not see this call end: close its record with what is known."""

    reason: LostReason


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveCallsResynced(Fact):
    """Asterisk's whole list of live calls after a (re)login: any call open elsewhere and not listed is over.

    Not about one call: ``call_id`` is empty. ``at`` is the time of the last event before the list
    (``CoreShowChannels`` answers carry no time), or None.
    """

    call_id: str = ""
    live_call_ids: frozenset[str] = frozenset()


CallFact = (
    CallStarted | LegRinging | LegAnswered | LegEnded | QueueJoined | QueueLeft | QueueAbandoned | AgentCalled
    | AgentConnected | AgentRingNoAnswer | Transferred | CallEnded | PbxTalkTime | CallLost | LiveCallsResynced
)


class CallFactSink(Protocol):
    """Where the tracker hands facts: the CRM adapter, the websocket hub, a test list."""

    def on_fact(self, fact: CallFact) -> None: ...

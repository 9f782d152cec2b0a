"""The call tracker's configuration and in-memory state: channels, legs and calls.

Kept apart from the event handlers so the outcome rules (:mod:`pbx_bridge.call_outcome`) can read a
call's state without knowing about events. Everything here is plain data owned by one
:class:`~pbx_bridge.call_tracker.CallTracker` instance; nothing is shared between instances.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from pbx_bridge.audiosocket import legs as softphone_legs
from pbx_bridge.call_facts import Direction, TransferKind, TransferResult


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """How to tell operators from the trunk by channel name.

    Defaults fit ``asterisk-conf/``: operator endpoints are 2-6 digits (``PJSIP/101-00000001``) and
    any other PJSIP/SIP endpoint is a trunk. Set ``trunk_endpoint_patterns`` to restrict trunks.
    """

    operator_endpoint_pattern: str = r"\d{2,6}"
    trunk_endpoint_patterns: tuple[str, ...] = ()
    sip_technologies: tuple[str, ...] = ("PJSIP", "SIP")
    #: A call still open this long after it started (event time) lost its Hangup: it is dropped and
    #: reported lost, so memory and the "calls in progress" view stay bounded.
    stale_call_s: float = 6 * 3600.0


class PartyKind(StrEnum):
    OPERATOR = "operator"
    TRUNK = "trunk"
    LOCAL = "local"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Party:
    kind: PartyKind
    endpoint: str

    @property
    def real(self) -> bool:
        """A device a person answers (operator phone or external number), not dialplan plumbing."""
        return self.kind in (PartyKind.OPERATOR, PartyKind.TRUNK)

    @property
    def extension(self) -> str | None:
        return self.endpoint if self.kind is PartyKind.OPERATOR else None


class ChannelClassifier:
    """Channel name to :class:`Party`, with the settings' patterns compiled once per tracker."""

    def __init__(self, settings: TrackerSettings) -> None:
        self._operator = re.compile(settings.operator_endpoint_pattern)
        self._trunks = tuple(re.compile(p) for p in settings.trunk_endpoint_patterns)
        self._sip = frozenset(t.upper() for t in settings.sip_technologies)

    def classify(self, channel_name: str) -> Party:
        tech, _, rest = channel_name.partition("/")
        # "PJSIP/trunk-0000000a": the endpoint is everything before the last "-" (it may contain "-").
        endpoint = rest.rsplit("-", 1)[0] if "-" in rest else rest
        if tech.upper() == "LOCAL":
            return Party(PartyKind.LOCAL, endpoint)
        if tech.upper() == "AUDIOSOCKET":
            # The web softphone: the router wrote the operator into the leg's UUID (audiosocket/legs.py).
            extension = softphone_legs.channel_extension(channel_name)
            return Party(PartyKind.OPERATOR, extension) if extension else Party(PartyKind.OTHER, endpoint)
        if tech.upper() not in self._sip:
            return Party(PartyKind.OTHER, endpoint)
        if self._operator.fullmatch(endpoint):
            return Party(PartyKind.OPERATOR, endpoint)
        if not self._trunks or any(p.fullmatch(endpoint) for p in self._trunks):
            return Party(PartyKind.TRUNK, endpoint)
        return Party(PartyKind.OTHER, endpoint)

    def is_operator_number(self, number: str) -> bool:
        return bool(number) and self._operator.fullmatch(number) is not None


@dataclass(slots=True)
class ChannelState:
    uniqueid: str
    name: str
    call_id: str
    party: Party
    state: str
    caller_num: str
    exten: str
    created_at: float | None
    ringing: bool = False
    bridge_id: str = ""
    #: What the Dial this channel ran last asked for: when a blind transfer moves the channel on, Asterisk
    #: publishes a Newexten of the new place that still names that old Dial (seen on Asterisk 22).
    dial_data: str | None = None


@dataclass(slots=True)
class LegState:
    """One dial of a real device; keyed by the dialled channel's uniqueid."""

    uniqueid: str
    channel: str
    party: Party
    number: str | None
    began_at: float | None
    #: The first leg of an originate (click-to-call): the operator's own phone ringing first.
    originate_leg: bool = False
    ringing_reported: bool = False
    answered_at: float | None = None
    answered: bool = False
    dial_status: str | None = None
    ended_at: float | None = None
    ended_reported: bool = False
    hangup_cause: int | None = None


@dataclass(slots=True)
class TransferState:
    """A transfer made in the call, waiting for (or settled by) the person who takes it."""

    seq: int
    kind: TransferKind
    from_extension: str | None
    #: What was dialled (BlindTransfer's Exten, or the consulted extension).
    target: str | None
    at: float | None
    taken_by: str | None = None
    #: The operator who took it (None for an external number or nobody).
    taken_by_extension: str | None = None
    #: The target's refusal seen so far (BUSY, NOANSWER, ...): the result if nobody takes it.
    refusal: TransferResult | None = None
    reported: bool = False


@dataclass(slots=True)
class CallState:
    call_id: str
    first_uniqueid: str
    first_party: Party
    first_caller_num: str
    first_exten: str
    started_at: float | None
    first_caller_name: str = ""
    direction: Direction | None = None
    click_to_call: bool = False
    started_reported: bool = False
    resynced: bool = False
    channels: set[str] = field(default_factory=set)
    legs: dict[str, LegState] = field(default_factory=dict)
    #: Every dial status seen in the call (DialEnd of any hop, VarSet DIALSTATUS), with its time.
    dial_statuses: list[tuple[str, float | None]] = field(default_factory=list)
    answered_leg: str | None = None
    answered_at: float | None = None
    #: The caller's own channel (the first) went Up: someone was connected to the caller. A leg that answers
    #: while it never does (call screening that refuses, behind a Local channel) did not answer the call.
    caller_up: bool = False
    #: HangupRequest on the first channel (the caller's side) and when.
    caller_hangup_at: float | None = None
    caller_hung_up: bool = False
    #: Parties whose HangupRequest counts for "who hung up" (caller side, answered legs), in order.
    hangup_requests: list[Party] = field(default_factory=list)
    soft_hangup_seen: bool = False
    first_hangup_cause: int | None = None
    queue: str | None = None
    queue_timeout: bool = False
    queue_timeout_at: float | None = None
    pending_abandon: tuple[str, int | None, float | None, float | None] | None = None
    queue_abandoned: bool = False
    ended_at: float | None = None
    #: Asterisk's own talk time (an ANSWERED Cdr's BillableSeconds), for a call answered before we looked.
    pbx_talk_s: float | None = None
    #: Targets of the Dial running now (``PJSIP/104``) that got no channel yet, with when it was asked.
    dial_targets: dict[str, float | None] = field(default_factory=dict)
    #: Every transfer in order; the last one taken says who ended up with the customer.
    transfers: list[TransferState] = field(default_factory=list)

    def real_legs(self) -> list[LegState]:
        return list(self.legs.values())

    def customer_legs(self) -> list[LegState]:
        """Legs that are not the originate's first ring of the operator's own phone."""
        return [leg for leg in self.legs.values() if not leg.originate_leg]

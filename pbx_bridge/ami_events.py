"""AMI frames to typed events: the second parsing stage, and the only module that spells AMI headers.

Each event the call tracker needs is a small frozen dataclass; anything else becomes
:class:`Unhandled`, so a new Asterisk event never breaks the bridge. Channel fields are grouped in
:class:`ChannelInfo`, read with a prefix (``""``, ``Dest``, ``Transferer``...) because Asterisk
repeats the same block under different prefixes. Event time is the ``Timestamp`` header (float
epoch, ``timestampevents=yes``) or ``None``: the caller decides what a missing time means.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, cast

from pbx_bridge.ami_frames import Frame

logger = logging.getLogger(__name__)

Headers = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """The channel block Asterisk repeats in channel events (``Channel``, ``Uniqueid``, ...)."""

    name: str
    uniqueid: str
    linkedid: str | None
    state: str
    caller_num: str
    caller_name: str
    connected_num: str
    context: str
    exten: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AmiEvent:
    timestamp: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelEvent(AmiEvent):
    channel: ChannelInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class FullyBooted(AmiEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Newchannel(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Newstate(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class NewCallerid(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Newexten(ChannelEvent):
    """A dialplan step running ``Dial`` (only those are typed; every other Newexten stays :class:`Unhandled`):
    what the dialplan asked to ring. Asterisk sends no DialBegin for a
    target it cannot make a channel for (an unregistered phone, an unreachable trunk), so this is the
    only trace such a target leaves besides ``DIALSTATUS=CHANUNAVAIL``."""

    app_data: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DialBegin(AmiEvent):
    #: ``None`` for an originated call's first leg: Asterisk sends only the ``Dest*`` block then.
    caller: ChannelInfo | None
    dest: ChannelInfo
    dial_string: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DialEnd(AmiEvent):
    caller: ChannelInfo | None
    dest: ChannelInfo
    dial_status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeEnter(ChannelEvent):
    bridge_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeLeave(ChannelEvent):
    bridge_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Hangup(ChannelEvent):
    cause: int | None
    cause_txt: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HangupRequest(ChannelEvent):
    """The side that hung up (a BYE/CANCEL from that device)."""

    cause: int | None
    tech_cause: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SoftHangupRequest(ChannelEvent):
    """Asterisk hung the channel up itself (the other side left, or dialplan ``Hangup()``)."""

    cause: int | None
    tech_cause: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueCallerJoin(ChannelEvent):
    queue: str
    position: int | None
    count: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueCallerAbandon(ChannelEvent):
    """Also sent on a queue timeout; the tracker tells them apart with ``QUEUESTATUS``."""

    queue: str
    position: int | None
    original_position: int | None
    hold_time_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueCallerLeave(ChannelEvent):
    queue: str
    position: int | None
    count: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentCalled(ChannelEvent):
    dest: ChannelInfo | None
    queue: str
    interface: str
    member_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConnect(ChannelEvent):
    dest: ChannelInfo | None
    queue: str
    interface: str
    member_name: str
    ring_time_s: float | None
    hold_time_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentRingNoAnswer(ChannelEvent):
    dest: ChannelInfo | None
    queue: str
    interface: str
    member_name: str
    #: Converted from the header's milliseconds (AgentConnect's RingTime is in seconds).
    ring_time_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentComplete(ChannelEvent):
    dest: ChannelInfo | None
    queue: str
    interface: str
    member_name: str
    hold_time_s: float | None
    talk_time_s: float | None
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VarSet(AmiEvent):
    #: ``None`` for a global variable (no channel block).
    channel: ChannelInfo | None
    variable: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Cdr(AmiEvent):
    unique_id: str
    channel: str
    destination_channel: str
    source: str
    destination: str
    disposition: str
    duration_s: int | None
    billable_s: int | None
    start_time: str
    answer_time: str
    end_time: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CoreShowChannel(ChannelEvent):
    action_id: str
    application: str
    application_data: str
    duration_s: int | None
    bridge_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CoreShowChannelsComplete(AmiEvent):
    action_id: str
    list_items: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginateResponse(AmiEvent):
    action_id: str
    response: str
    channel: str
    reason: str
    uniqueid: str
    exten: str
    caller_num: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BlindTransfer(AmiEvent):
    result: str
    transferer: ChannelInfo | None
    transferee: ChannelInfo | None
    extension: str
    context: str
    is_external: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AttendedTransfer(AmiEvent):
    result: str
    orig_transferer: ChannelInfo | None
    second_transferer: ChannelInfo | None
    transferee: ChannelInfo | None
    transfer_target: ChannelInfo | None
    dest_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Pickup(ChannelEvent):
    """``channel`` (an operator who dialled ``*8`` / ``**101``: a call of its own, its own Linkedid) took
    ``target``, a channel ringing in another call. Asterisk moves the picker into that call."""

    target: ChannelInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStateChange(AmiEvent):
    device: str
    state: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactStatus(AmiEvent):
    uri: str
    contact_status: str
    aor: str
    endpoint_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStateListComplete(AmiEvent):
    """The end of a ``DeviceStateList`` answer: every device Asterisk knows was listed before it."""

    action_id: str
    list_items: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactListItem(AmiEvent):
    """One registered contact from ``PJSIPShowContacts`` (``Event: ContactList``)."""

    uri: str
    #: ``Reachable``, ``Unreachable``, ``NonQualified`` or ``Unknown`` (qualify not yet done).
    status: str
    aor: str
    endpoint_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Unhandled(AmiEvent):
    """Any event the bridge does not model, or one missing a header it needs (``problem`` says which)."""

    name: str
    headers: tuple[tuple[str, str], ...]
    problem: str | None = None


_Decoder = Callable[[Headers], "AmiEvent"]


class MissingHeader(Exception):
    """A header a typed event needs is absent; the frame becomes :class:`Unhandled`."""


# --- header readers ---------------------------------------------------------------------------


def _timestamp(h: Headers) -> float | None:
    return _float(h.get("Timestamp"))


def _float(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _need(h: Headers, key: str) -> str:
    value = h.get(key)
    if value is None:
        raise MissingHeader(key)
    return value


def _hms(text: str | None) -> int | None:
    """``00:01:02`` (CoreShowChannel Duration) to seconds."""
    if not text:
        return None
    parts = text.split(":")
    try:
        seconds = 0
        for part in parts:
            seconds = seconds * 60 + int(part)
    except ValueError:
        return None
    return seconds


#: The C escapes Asterisk's AMI writes in caller names (``ast_escape_c``): a BEL arrives as ``\a``.
_C_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def unescape(value: str) -> str:
    r"""AMI C-escapes caller names (``O\'Brien``, a BEL as ``\a``): the value itself, control characters
    included (the CRM removes them where it keeps the name). Called once per call by the tracker (for the
    name it keeps), not on every event's channel block."""
    if "\\" not in value:
        return value
    out, escaped = [], False
    for char in value:
        if escaped:
            out.append(_C_ESCAPES.get(char, char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)


def _caller_id(value: str | None) -> str:
    """Asterisk writes an empty caller ID as ``<unknown>``; the rest of the bridge sees ``""``."""
    return "" if value is None or value == "<unknown>" else value


_CHANNEL_FIELDS = ("Channel", "Uniqueid", "Linkedid", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
                   "ConnectedLineNum", "Context", "Exten")
#: The channel block's header names under each prefix the decoders use, spelt once instead of per event.
_CHANNEL_KEYS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType({
    prefix: tuple(prefix + field for field in _CHANNEL_FIELDS)
    for prefix in ("", "Dest", "Transferer", "Transferee", "OrigTransferer", "SecondTransferer", "TransferTarget",
                   "Target")
})


def _channel(h: Headers, prefix: str = "") -> ChannelInfo | None:
    keys = _CHANNEL_KEYS.get(prefix) or tuple(prefix + field for field in _CHANNEL_FIELDS)
    k_name, k_uniqueid, k_linkedid, k_state, k_num, k_cname, k_connected, k_context, k_exten = keys
    name = h.get(k_name)
    uniqueid = h.get(k_uniqueid)
    if not name or uniqueid is None:
        return None
    return ChannelInfo(
        name=name,
        uniqueid=uniqueid,
        linkedid=h.get(k_linkedid) or None,
        state=h.get(k_state, ""),
        caller_num=_caller_id(h.get(k_num)),
        caller_name=_caller_id(h.get(k_cname)),
        connected_num=_caller_id(h.get(k_connected)),
        context=h.get(k_context, ""),
        exten=h.get(k_exten, ""),
    )


def _need_channel(h: Headers, prefix: str = "") -> ChannelInfo:
    info = _channel(h, prefix)
    if info is None:
        raise MissingHeader(f"{prefix}Channel/{prefix}Uniqueid")
    return info


# --- decoders, one per event name -------------------------------------------------------------


def _simple_channel(cls: type[Newchannel] | type[Newstate] | type[NewCallerid]) -> _Decoder:
    def decode(h: Headers) -> AmiEvent:
        return cls(timestamp=_timestamp(h), channel=_need_channel(h))

    return decode


def _newexten(h: Headers) -> AmiEvent:
    """Only ``Dial`` steps are typed (event_from_frame passes the rest on untouched, unparsed)."""
    if h.get("Application") != "Dial":
        return Unhandled(timestamp=_timestamp(h), name="Newexten", headers=tuple(h.items()))
    return Newexten(timestamp=_timestamp(h), channel=_need_channel(h), app_data=h.get("AppData", ""))


def _dial_begin(h: Headers) -> AmiEvent:
    return DialBegin(
        timestamp=_timestamp(h), caller=_channel(h), dest=_need_channel(h, "Dest"),
        dial_string=h.get("DialString", ""),
    )


def _dial_end(h: Headers) -> AmiEvent:
    return DialEnd(
        timestamp=_timestamp(h), caller=_channel(h), dest=_need_channel(h, "Dest"),
        dial_status=h.get("DialStatus", ""),
    )


def _bridge(cls: type[BridgeEnter] | type[BridgeLeave]) -> _Decoder:
    def decode(h: Headers) -> AmiEvent:
        return cls(timestamp=_timestamp(h), channel=_need_channel(h), bridge_id=h.get("BridgeUniqueid", ""))

    return decode


def _hangup(h: Headers) -> AmiEvent:
    return Hangup(
        timestamp=_timestamp(h), channel=_need_channel(h), cause=_int(h.get("Cause")),
        cause_txt=h.get("Cause-txt", ""),
    )


def _hangup_request(cls: type[HangupRequest] | type[SoftHangupRequest]) -> _Decoder:
    def decode(h: Headers) -> AmiEvent:
        return cls(
            timestamp=_timestamp(h), channel=_need_channel(h), cause=_int(h.get("Cause")),
            tech_cause=_int(h.get("TechCause")),
        )

    return decode


def _queue_join_leave(cls: type[QueueCallerJoin] | type[QueueCallerLeave]) -> _Decoder:
    def decode(h: Headers) -> AmiEvent:
        return cls(
            timestamp=_timestamp(h), channel=_need_channel(h), queue=h.get("Queue", ""),
            position=_int(h.get("Position")), count=_int(h.get("Count")),
        )

    return decode


def _queue_abandon(h: Headers) -> AmiEvent:
    return QueueCallerAbandon(
        timestamp=_timestamp(h), channel=_need_channel(h), queue=h.get("Queue", ""),
        position=_int(h.get("Position")), original_position=_int(h.get("OriginalPosition")),
        hold_time_s=_float(h.get("HoldTime")),
    )


def _agent_called(h: Headers) -> AmiEvent:
    return AgentCalled(
        timestamp=_timestamp(h), channel=_need_channel(h), dest=_channel(h, "Dest"), queue=h.get("Queue", ""),
        interface=h.get("Interface", ""), member_name=h.get("MemberName", ""),
    )


def _agent_connect(h: Headers) -> AmiEvent:
    return AgentConnect(
        timestamp=_timestamp(h), channel=_need_channel(h), dest=_channel(h, "Dest"), queue=h.get("Queue", ""),
        interface=h.get("Interface", ""), member_name=h.get("MemberName", ""),
        ring_time_s=_float(h.get("RingTime")), hold_time_s=_float(h.get("HoldTime")),
    )


def _agent_ring_no_answer(h: Headers) -> AmiEvent:
    ring_ms = _float(h.get("RingTime"))
    return AgentRingNoAnswer(
        timestamp=_timestamp(h), channel=_need_channel(h), dest=_channel(h, "Dest"), queue=h.get("Queue", ""),
        interface=h.get("Interface", ""), member_name=h.get("MemberName", ""),
        ring_time_s=None if ring_ms is None else ring_ms / 1000.0,
    )


def _agent_complete(h: Headers) -> AmiEvent:
    return AgentComplete(
        timestamp=_timestamp(h), channel=_need_channel(h), dest=_channel(h, "Dest"), queue=h.get("Queue", ""),
        interface=h.get("Interface", ""), member_name=h.get("MemberName", ""),
        hold_time_s=_float(h.get("HoldTime")), talk_time_s=_float(h.get("TalkTime")),
        reason=h.get("Reason", ""),
    )


def _var_set(h: Headers) -> AmiEvent:
    return VarSet(
        timestamp=_timestamp(h), channel=_channel(h), variable=_need(h, "Variable"), value=h.get("Value", ""),
    )


def _cdr(h: Headers) -> AmiEvent:
    return Cdr(
        timestamp=_timestamp(h), unique_id=h.get("UniqueID", ""), channel=h.get("Channel", ""),
        destination_channel=h.get("DestinationChannel", ""), source=h.get("Source", ""),
        destination=h.get("Destination", ""), disposition=h.get("Disposition", ""),
        duration_s=_int(h.get("Duration")), billable_s=_int(h.get("BillableSeconds")),
        start_time=h.get("StartTime", ""), answer_time=h.get("AnswerTime", ""), end_time=h.get("EndTime", ""),
    )


def _core_show_channel(h: Headers) -> AmiEvent:
    return CoreShowChannel(
        timestamp=_timestamp(h), channel=_need_channel(h), action_id=h.get("ActionID", ""),
        application=h.get("Application", ""), application_data=h.get("ApplicationData", ""),
        duration_s=_hms(h.get("Duration")), bridge_id=h.get("BridgeId", ""),
    )


def _core_show_complete(h: Headers) -> AmiEvent:
    return CoreShowChannelsComplete(
        timestamp=_timestamp(h), action_id=h.get("ActionID", ""), list_items=_int(h.get("ListItems")),
    )


def _originate_response(h: Headers) -> AmiEvent:
    return OriginateResponse(
        timestamp=_timestamp(h), action_id=h.get("ActionID", ""), response=h.get("Response", ""),
        channel=h.get("Channel", ""), reason=h.get("Reason", ""), uniqueid=h.get("Uniqueid", ""),
        exten=h.get("Exten", ""), caller_num=h.get("CallerIDNum", ""),
    )


def _blind_transfer(h: Headers) -> AmiEvent:
    return BlindTransfer(
        timestamp=_timestamp(h), result=h.get("Result", ""), transferer=_channel(h, "Transferer"),
        transferee=_channel(h, "Transferee"), extension=h.get("Extension", ""), context=h.get("Context", ""),
        is_external=h.get("IsExternal", "").lower() == "yes",
    )


def _attended_transfer(h: Headers) -> AmiEvent:
    return AttendedTransfer(
        timestamp=_timestamp(h), result=h.get("Result", ""), orig_transferer=_channel(h, "OrigTransferer"),
        second_transferer=_channel(h, "SecondTransferer"), transferee=_channel(h, "Transferee"),
        transfer_target=_channel(h, "TransferTarget"), dest_type=h.get("DestType", ""),
    )


def _pickup(h: Headers) -> AmiEvent:
    return Pickup(timestamp=_timestamp(h), channel=_need_channel(h), target=_need_channel(h, "Target"))


def _device_state(h: Headers) -> AmiEvent:
    return DeviceStateChange(timestamp=_timestamp(h), device=h.get("Device", ""), state=h.get("State", ""))


def _contact_status(h: Headers) -> AmiEvent:
    return ContactStatus(
        timestamp=_timestamp(h), uri=h.get("URI", ""), contact_status=h.get("ContactStatus", ""),
        aor=h.get("AOR", ""), endpoint_name=h.get("EndpointName", ""),
    )


def _device_state_list_complete(h: Headers) -> AmiEvent:
    return DeviceStateListComplete(timestamp=_timestamp(h), action_id=h.get("ActionID", ""),
                                   list_items=_int(h.get("ListItems")))


def _contact_list(h: Headers) -> AmiEvent:
    # ObjectName is "<aor>;@<hash>" for a registered contact; Endpoint names the endpoint (may be empty).
    aor = h.get("Aor") or h.get("ObjectName", "").split(";@", 1)[0]
    return ContactListItem(timestamp=_timestamp(h), uri=h.get("Uri", ""), status=h.get("Status", ""),
                           aor=aor, endpoint_name=h.get("Endpoint", ""))


def _fully_booted(h: Headers) -> AmiEvent:
    return FullyBooted(timestamp=_timestamp(h))


#: Event name to decoder: the explicit table of every event the bridge understands.
DECODERS: Final[Mapping[str, _Decoder]] = MappingProxyType({
    "FullyBooted": _fully_booted,
    "Newchannel": _simple_channel(Newchannel),
    "Newstate": _simple_channel(Newstate),
    "NewCallerid": _simple_channel(NewCallerid),
    "Newexten": _newexten,
    "DialBegin": _dial_begin,
    "DialEnd": _dial_end,
    "BridgeEnter": _bridge(BridgeEnter),
    "BridgeLeave": _bridge(BridgeLeave),
    "Hangup": _hangup,
    "HangupRequest": _hangup_request(HangupRequest),
    "SoftHangupRequest": _hangup_request(SoftHangupRequest),
    "QueueCallerJoin": _queue_join_leave(QueueCallerJoin),
    "QueueCallerAbandon": _queue_abandon,
    "QueueCallerLeave": _queue_join_leave(QueueCallerLeave),
    "AgentCalled": _agent_called,
    "AgentConnect": _agent_connect,
    "AgentRingNoAnswer": _agent_ring_no_answer,
    "AgentComplete": _agent_complete,
    "VarSet": _var_set,
    "Cdr": _cdr,
    "CoreShowChannel": _core_show_channel,
    "CoreShowChannelsComplete": _core_show_complete,
    "OriginateResponse": _originate_response,
    "BlindTransfer": _blind_transfer,
    "AttendedTransfer": _attended_transfer,
    "Pickup": _pickup,
    "DeviceStateChange": _device_state,
    "ContactStatus": _contact_status,
    "DeviceStateListComplete": _device_state_list_complete,
    "ContactList": _contact_list,
})


def event_from_headers(headers: Headers, pairs: tuple[tuple[str, str], ...] | None = None) -> AmiEvent | None:
    """Decode one event from its header view; ``None`` for a frame that is not an event (a Response)."""
    name = headers.get("Event")
    if name is None:
        return None
    raw = pairs if pairs is not None else tuple(headers.items())
    decoder = DECODERS.get(name)
    if decoder is None:
        return Unhandled(timestamp=_timestamp(headers), name=name, headers=raw)
    try:
        return decoder(headers)
    except MissingHeader as exc:
        logger.warning("AMI %s event without %s header: not decoded", name, exc)
        return Unhandled(timestamp=_timestamp(headers), name=name, headers=raw, problem=f"missing {exc}")


def event_from_frame(frame: Frame) -> AmiEvent | None:
    """Typed event for an AMI frame; ``None`` if the frame is an action response, not an event."""
    name = frame.get("Event")
    if name is not None and (name not in DECODERS or (name == "Newexten" and frame.get("Application") != "Dial")):
        # Most of a live stream (QueueMemberStatus, AGIExec, Newexten of every other step...): no header
        # view needed.
        return Unhandled(timestamp=_float(frame.get("Timestamp")), name=name, headers=frame.headers)
    return event_from_headers(frame.first_values(), frame.headers)


def event_from_dict(record: Mapping[str, object]) -> AmiEvent | None:
    """Typed event for one recorded event dict (cacofonisk's JSON format: all values strings)."""
    copy = dict(record)
    try:  # all strings, as recorded? str.join checks every item in C, far cheaper than str() on each
        "".join(copy)
        "".join(copy.values())  # type: ignore[arg-type]
        headers = cast(dict[str, str], copy)
    except TypeError:
        headers = {str(key): str(value) for key, value in record.items()}
    headers.pop("content", None)
    return event_from_headers(headers)


def events_from_dicts(records: Iterable[Mapping[str, object]]) -> list[AmiEvent]:
    """Typed events for a recorded list of event dicts, skipping non-event entries."""
    out: list[AmiEvent] = []
    for record in records:
        event = event_from_dict(record)
        if event is not None:
            out.append(event)
    return out


def events_from_frames(frames: Iterable[object]) -> list[AmiEvent]:
    """Typed events for the frames among ``frames`` (banners and responses skipped)."""
    out: list[AmiEvent] = []
    for item in frames:
        if isinstance(item, Frame):
            event = event_from_frame(item)
            if event is not None:
                out.append(event)
    return out

"""Typed AMI actions and their responses: the only module that spells action and response headers.

:mod:`pbx_bridge.ami_events` spells the headers of events; this module spells what we *send*
(``Action``, ``Channel``, ``Exten``...) and the few headers of a ``Response`` frame (``Response``,
``Message``, ``EventList``, ``Ping``). An action is a frozen dataclass; its ``ActionID`` is given
by the caller (to correlate a later ``OriginateResponse`` event) or assigned by the client.
Serialisation goes through :func:`pbx_bridge.ami_frames.serialize_action`, which refuses CR/LF in
values, so a caller ID typed by an outsider cannot smuggle a second action onto the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from pbx_bridge.ami_frames import Frame

#: Field values as :func:`~pbx_bridge.ami_frames.serialize_action` takes them (a tuple repeats the header).
ActionFields = dict[str, str | tuple[str, ...]]

_ACTION = "Action"
_ACTION_ID = "ActionID"
_RESPONSE = "Response"
_MESSAGE = "Message"
_EVENT_LIST = "EventList"


class AmiError(Exception):
    """Base of every AMI failure the client reports to its callers."""


class AmiNotConnected(AmiError):
    """The client has no logged-in connection right now; the action was not sent."""


class AmiConnectionLost(AmiError):
    """The connection ended before the action was answered; it is never re-sent automatically."""


class AmiTimeout(AmiError):
    """Asterisk did not answer the action in time."""


class AmiActionFailed(AmiError):
    """Asterisk answered ``Response: Error`` (the message says why, e.g. ``No such channel``)."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action}: {message or 'error'}")
        self.action = action
        self.message = message


class AmiLoginFailed(AmiActionFailed):
    """Wrong user or secret, or the user may not log in from here."""


@dataclass(frozen=True, slots=True)
class ActionResponse:
    """The ``Response`` frame that answers an action (list items, if any, arrive as events)."""

    action_id: str
    response: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def success(self) -> bool:
        return self.response in ("Success", "Follows", "Goodbye")

    @property
    def starts_list(self) -> bool:
        """``EventList: start``: the answer continues as events ending in ``...Complete``."""
        return self.get(_EVENT_LIST).lower() == "start"

    def get(self, key: str) -> str:
        for name, value in self.headers:
            if name == key:
                return value
        return ""


def response_from_frame(frame: Frame) -> ActionResponse | None:
    """The typed response for a frame with a ``Response`` header; ``None`` for any other frame."""
    response = frame.get(_RESPONSE)
    if response is None:
        return None
    return ActionResponse(action_id=frame.get(_ACTION_ID, "") or "", response=response,
                          message=frame.get(_MESSAGE, "") or "", headers=frame.headers)


def server_time(response: ActionResponse) -> float | None:
    """The ``Timestamp`` a Ping answer carries (Asterisk's clock, epoch seconds), if any."""
    try:
        return float(response.get("Timestamp"))
    except ValueError:
        return None


def action_id_of(frame: Frame) -> str | None:
    return frame.get(_ACTION_ID)


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """Base of the typed actions: ``name`` is Asterisk's action name, ``fields()`` the rest."""

    name: ClassVar[str] = ""
    #: The answer is ``EventList: start``, list events, then an event named ``...Complete``.
    answers_with_list: ClassVar[bool] = False
    #: ``None``: the client assigns a unique one.
    action_id: str | None = None

    def fields(self) -> ActionFields:
        return {}

    def to_fields(self, action_id: str) -> ActionFields:
        """Every header to send, ``Action`` and ``ActionID`` first."""
        return {_ACTION: self.name, _ACTION_ID: action_id, **self.fields()}

    def describe(self) -> str:
        """For logs: the action without values that may be secret."""
        return self.name


@dataclass(frozen=True, slots=True, kw_only=True)
class Login(Action):
    name: ClassVar[str] = "Login"
    username: str
    secret: str = field(repr=False)
    #: ``on`` = every event the user's read classes allow; ``off`` or a class list otherwise.
    events: str = "on"

    def fields(self) -> ActionFields:
        return {"Username": self.username, "Secret": self.secret, "Events": self.events}

    def describe(self) -> str:
        return f"Login as {self.username}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping(Action):
    """Answered by ``Response: Success`` with ``Ping: Pong`` and the server's ``Timestamp``."""

    name: ClassVar[str] = "Ping"


@dataclass(frozen=True, slots=True, kw_only=True)
class CoreShowChannels(Action):
    """Every live channel as a ``CoreShowChannel`` event, then ``CoreShowChannelsComplete``."""

    name: ClassVar[str] = "CoreShowChannels"
    answers_with_list: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStateList(Action):
    """Every device's state now (``DeviceStateChange`` events, then ``DeviceStateListComplete``).

    Asterisk reports device states only as they change; after a login nothing says which phones are
    registered until this is asked. Needs the ``reporting`` write class.
    """

    name: ClassVar[str] = "DeviceStateList"
    answers_with_list: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class PJSIPShowContacts(Action):
    """Every registered PJSIP contact (``ContactList`` events, then ``ContactListComplete``). Needs ``system``."""

    name: ClassVar[str] = "PJSIPShowContacts"
    answers_with_list: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Originate(Action):
    """Ring ``channel`` (the operator's phone first, for click-to-call), then run exten@context.

    Sent with ``Async: true``: Asterisk answers at once (``Originate successfully queued``) and the
    result comes later as an ``OriginateResponse`` event carrying this action's ActionID.
    ``channel_id`` pre-assigns the first channel's Uniqueid, which is then also the call's Linkedid,
    so the caller knows the call id before the phone rings.
    """

    name: ClassVar[str] = "Originate"
    channel: str
    context: str
    exten: str
    priority: str = "1"
    caller_id: str | None = None
    timeout_s: float = 30.0
    variables: Mapping[str, str] = field(default_factory=dict)
    channel_id: str | None = None
    account_code: str | None = None

    def fields(self) -> ActionFields:
        out: ActionFields = {"Channel": self.channel, "Context": self.context, "Exten": self.exten,
                             "Priority": self.priority, "Timeout": str(int(self.timeout_s * 1000)),
                             "Async": "true"}
        if self.caller_id is not None:
            out["CallerID"] = self.caller_id
        if self.channel_id is not None:
            out["ChannelId"] = self.channel_id
        if self.account_code is not None:
            out["Account"] = self.account_code
        if self.variables:
            out["Variable"] = tuple(f"{key}={value}" for key, value in self.variables.items())
        return out

    def describe(self) -> str:
        return f"Originate {self.channel} -> {self.exten}@{self.context}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Hangup(Action):
    """Hang up one channel by name (a ``/regex/`` name would hang up several: not used here)."""

    name: ClassVar[str] = "Hangup"
    channel: str
    #: Q.850 cause to report, e.g. 16 normal clearing; ``None`` lets Asterisk choose.
    cause: int | None = None

    def fields(self) -> ActionFields:
        out: ActionFields = {"Channel": self.channel}
        if self.cause is not None:
            out["Cause"] = str(self.cause)
        return out

    def describe(self) -> str:
        return f"Hangup {self.channel}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Redirect(Action):
    """Send a channel (and optionally the other party, ``extra_channel``) to exten@context."""

    name: ClassVar[str] = "Redirect"
    channel: str
    context: str
    exten: str
    priority: str = "1"
    extra_channel: str | None = None

    def fields(self) -> ActionFields:
        out: ActionFields = {"Channel": self.channel, "Context": self.context, "Exten": self.exten,
                             "Priority": self.priority}
        if self.extra_channel is not None:
            out.update({"ExtraChannel": self.extra_channel, "ExtraContext": self.context,
                        "ExtraExten": self.exten, "ExtraPriority": self.priority})
        return out

    def describe(self) -> str:
        return f"Redirect {self.channel} -> {self.exten}@{self.context}"

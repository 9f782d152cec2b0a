"""Frozen records the repositories return; the rest of the service never sees raw rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

Role = Literal["operator", "supervisor", "admin"]
Presence = Literal["online", "away", "offline"]
CustomerKind = Literal["person", "company"]
TaskKind = Literal["callback", "follow_up", "custom"]
TaskStatus = Literal["open", "done", "cancelled"]
SalesChannel = Literal["site", "landing", "app", "phone", "marketplace", "other"]

ROLES: tuple[Role, ...] = ("operator", "supervisor", "admin")
PRESENCES: tuple[Presence, ...] = ("online", "away", "offline")
CUSTOMER_KINDS: tuple[CustomerKind, ...] = ("person", "company")
TASK_KINDS: tuple[TaskKind, ...] = ("callback", "follow_up", "custom")
TASK_STATUSES: tuple[TaskStatus, ...] = ("open", "done", "cancelled")
SALES_CHANNELS: tuple[SalesChannel, ...] = ("site", "landing", "app", "phone", "marketplace", "other")


@dataclass(frozen=True)
class Manager:
    id: int
    login: str
    display_name: str
    role: Role
    extensions: tuple[str, ...]
    softphone: bool
    vip_capable: bool
    seniority: int
    max_concurrent_calls: int
    active: bool
    presence: Presence
    presence_changed_at: datetime
    locale: str
    created_at: datetime

    @property
    def sees_everything(self) -> bool:
        """Supervisors (heads of sales) and admins see all customers and tasks."""
        return self.role in ("supervisor", "admin")


@dataclass(frozen=True)
class Phone:
    e164: str
    label: str


@dataclass(frozen=True)
class Customer:
    id: int
    name: str
    kind: CustomerKind
    vip: bool
    region: str
    tags: tuple[str, ...]
    responsible_manager_id: int | None
    responsible_manager_name: str | None
    email: str
    phones: tuple[Phone, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class OrderStatus:
    code: str
    position: int
    title_ru: str
    title_en: str
    time_limit: timedelta | None
    is_final: bool
    is_initial: bool

    def title(self, locale: str) -> str:
        return self.title_en if locale == "en" else self.title_ru


@dataclass(frozen=True)
class Order:
    id: int
    number: str
    customer_id: int
    customer_name: str
    manager_id: int | None
    manager_name: str | None
    channel: SalesChannel
    items: tuple[dict[str, Any], ...]
    total: Decimal
    currency: str
    status: str
    status_changed_at: datetime
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StatusChange:
    from_status: str | None
    to_status: str
    changed_by: int | None
    changed_by_name: str | None
    changed_at: datetime
    comment: str


@dataclass(frozen=True)
class Task:
    id: int
    kind: TaskKind
    title: str
    customer_id: int | None
    customer_name: str | None
    order_id: int | None
    order_number: str | None
    call_id: int | None
    assignee_id: int | None
    assignee_name: str | None
    due_at: datetime | None
    status: TaskStatus
    result_note: str
    created_by_id: int | None
    created_at: datetime
    closed_at: datetime | None
    #: A missed-call callback's number (crm/callbacks.py); None for other tasks.
    phone: str | None = None
    #: How many missed calls from that number the callback covers.
    missed_calls: int = 0
    priority: int = 0
    #: 'reached' (closed by an answered call), 'manual', or '' while open.
    outcome: str = ""
    #: Callback attempts that did not reach the customer (the operator's or auto-callback's).
    attempts: int = 0

    def is_overdue(self, now: datetime) -> bool:
        return self.status == "open" and self.due_at is not None and self.due_at < now


@dataclass(frozen=True)
class Note:
    id: int
    customer_id: int
    order_id: int | None
    author_id: int | None
    author_name: str | None
    body: str
    created_at: datetime


@dataclass(frozen=True)
class Page:
    """A window of a list plus whether more rows follow, for 'next page' links."""

    items: tuple[Any, ...]
    has_more: bool


CallDirection = Literal["inbound", "outbound", "internal", "unknown"]
#: "lost": the bridge did not see the end and nobody had answered (see crm.lost_calls).
CallOutcome = Literal["answered", "missed", "lost"]
LegResult = Literal["answered", "answered_elsewhere", "no_answer", "busy", "rejected", "unavailable", "cancelled",
                    "failed"]

CALL_DIRECTIONS: tuple[CallDirection, ...] = ("inbound", "outbound", "internal")
CALL_OUTCOMES: tuple[CallOutcome, ...] = ("answered", "missed", "lost")
LEG_RESULTS: tuple[LegResult, ...] = ("answered", "answered_elsewhere", "no_answer", "busy", "rejected",
                                      "unavailable", "cancelled", "failed")


@dataclass(frozen=True)
class CallLeg:
    """One device the call tried: an operator's phone (`extension`) or an external number (`number`)."""

    channel: str
    extension: str | None
    number: str | None
    manager_id: int | None
    manager_name: str | None
    ringing_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    dial_status: str
    ring_s: float | None
    result: LegResult | None


@dataclass(frozen=True)
class CallRoute:
    """Why an inbound call went where it did, as routing recorded it (crm/routing/data.py writes it).

    The journal's "why did this call go there": `reason` is a slug of crm.routing.REASONS, `targets`
    the dial string answered to the PBX, `explanation` one line per policy step.
    """

    reason: str
    targets: str
    explanation: str
    routed_at: datetime | None


@dataclass(frozen=True)
class CallRecording:
    """A call's registered recording as the journal, the card and the API show it (crm/recordings.py)."""

    id: int
    #: mixed / operator / customer / stereo.
    kind: str
    duration_s: float
    keep: bool = False
    #: stored / archived (both playable).
    state: str = "stored"


@dataclass(frozen=True)
class CallTransfer:
    """One transfer of a call: who sent it where, and who took it ('' when nobody did)."""

    seq: int
    at: datetime
    kind: str  # "blind" | "attended"
    from_extension: str
    target: str
    taken_by: str
    #: completed, busy, no_answer, failed, abandoned (the customer hung up while the target rang)
    result: str


@dataclass(frozen=True)
class Call:
    """A call as a business record: one per Asterisk Linkedid, with the legs that rang."""

    id: int
    linkedid: str
    direction: CallDirection
    #: Raw numbers as the PBX gave them (may be 'anonymous'); `customer_e164` is the parsed customer number.
    caller: str
    callee: str
    did: str
    customer_e164: str | None
    customer_id: int | None
    customer_name: str | None
    order_id: int | None
    order_number: str | None
    manager_id: int | None
    manager_name: str | None
    operator_extension: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    #: None while the call is live.
    outcome: CallOutcome | None
    #: Why a missed call was missed (no_answer, busy, abandoned...); '' otherwise.
    reason: str
    answered_by: str
    hung_up_by: str | None
    hung_up_by_extension: str
    ring_s: float | None
    talk_s: float | None
    click_to_call: bool
    queue: str
    transfer_kind: str | None
    transferred_to: str
    legs: tuple[CallLeg, ...]
    #: The routing decision, or None for calls routing never saw (outbound, internal, older calls).
    route: CallRoute | None = None
    #: Who closed the record: "pbx" (the PBX reported the end), "resync" / "timeout" (the end was not
    #: seen, see crm.lost_calls); None while the call is open.
    closed_by: str | None = None
    #: Built or completed from Asterisk's CDR after an outage of the bridge (crm.recovery), not live.
    recovered: bool = False
    #: Every transfer in order (`transfer_kind` / `transferred_to` repeat the last one).
    transfers: tuple[CallTransfer, ...] = ()
    #: The queue's view: the caller's place on joining and on leaving the waiting list, and how long they
    #: waited (until a member answered, or until they left); None when the call never queued.
    queue_position: int | None = None
    queue_left_position: int | None = None
    queue_hold_s: float | None = None
    #: The caller-ID name the network sent (data, never markup) and the presentation:
    #: allowed / restricted / anonymous ('' when not known).
    caller_name: str = ""
    caller_presentation: str = ""
    #: The task a click-to-call was placed from (its order is `order_id`).
    task_id: int | None = None
    #: The operator's call result (a `call_dispositions` code), None until given.
    disposition: str | None = None
    #: Where the call's recording stands: none / pending / registered / missing / corrupt (crm/recordings.py),
    #: and the recordings that can be played.
    recording_state: str = "none"
    recordings: tuple[CallRecording, ...] = ()


# ---- routing configuration (crm/routing/data.py) ------------------------------------------------------------

StickySource = Literal["responsible", "last_order"]
STICKY_SOURCES: tuple[StickySource, ...] = ("responsible", "last_order")


@dataclass(frozen=True)
class RoutingGroup:
    """Managers that take the calls a routing rule sends them; `queue` is where calls wait when none can."""

    id: int
    name: str
    #: Asterisk queue name; '' means the default queue from the routing settings.
    queue: str
    ring_timeout_s: int
    member_ids: tuple[int, ...]
    #: Ring every free member at once (the first to answer takes it) instead of the least-loaded one.
    ring_all: bool = False


@dataclass(frozen=True)
class RoutingRule:
    """First matching rule (lowest position, then id) picks the group; '' fields match anything."""

    id: int
    position: int
    did: str
    channel: str
    customer_kind: str
    region: str
    group_id: int
    group_name: str
    note: str


@dataclass(frozen=True)
class RoutingNumber:
    """One of the shop's dialled numbers (DID) and the sales channel it advertises (site, landing, app...)."""

    did: str
    channel: str
    label: str


@dataclass(frozen=True)
class DayHours:
    """Opening hours on one ISO weekday (1 = Monday), in minutes after midnight.

    `closes_min` may be 1440 (24:00) or below `opens_min` (the shift runs past midnight into the next day).
    """

    weekday: int
    opens_min: int
    closes_min: int

    @property
    def opens(self) -> str:
        return f"{self.opens_min // 60:02d}:{self.opens_min % 60:02d}"

    @property
    def closes(self) -> str:
        return f"{self.closes_min // 60:02d}:{self.closes_min % 60:02d}"

    @property
    def overnight(self) -> bool:
        return self.closes_min < self.opens_min


@dataclass(frozen=True)
class Holiday:
    day: date
    note: str


@dataclass(frozen=True)
class RoutingSchedule:
    """Working hours for one DID ('' = the global schedule) in its own time zone, with its holidays."""

    id: int
    did: str
    timezone: str
    hours: tuple[DayHours, ...]
    #: 'voicemail:NAME', 'dial:+NUMBER', 'playback:SOUND' or 'hangup'.
    after_hours_target: str
    holidays: tuple[Holiday, ...]


@dataclass(frozen=True)
class RoutingSettings:
    sticky_source: StickySource
    default_queue: str
    default_ring_timeout_s: int


@dataclass(frozen=True)
class RouteRecord:
    """The routing decision recorded on a call: "why did this call go there"."""

    linkedid: str
    reason: str
    #: The manager rung first (None for after-hours / queue decisions), and what was dialled.
    manager_id: int | None
    manager_name: str | None
    targets: str
    fallback: str
    explanation: str
    routed_at: datetime | None

"""Frozen records the repositories return; the rest of the service never sees raw rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
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

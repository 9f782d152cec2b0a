"""Routing admin forms: what a form shows (`*_values`), what was typed (`*_submitted`), and the crm input.

The crm inputs validate everything that matters to routing; the checks here are the ones only a
form has: a field that is not a number, a weekday left half empty, a closing time before the opening
one without the "past midnight" box (a typo far more often than a night shift), a member who was
never offered. Messages are English catalogue keys, or text already in the user's language when it
names a weekday, so `form_error` shows them as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from crm.errors import InvalidInput
from crm.models import STICKY_SOURCES, RoutingGroup, RoutingRule, RoutingSchedule, RoutingSettings, StickySource
from crm.routing.config import DEFAULT_HOURS
from crm.routing.data import GroupInput, NumberInput, RoutingSettingsInput, RuleInput, ScheduleInput
from crm.routing.hours import parse_hhmm, zone
from web.pages.forms import Form, checkbox, int_field, text

WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)
WEEKDAY_KEYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CAP_PREFIX = "cap_"
Translate = Callable[[str], str]


def _int(form: Form, name: str, label: str, default: int) -> int:
    return int_field(form, name, label, default)


# ---- groups ---------------------------------------------------------------------------------------------------

def group_values(group: RoutingGroup | None) -> dict[str, Any]:
    if group is None:
        return {"name": "", "queue": "", "ring_timeout_s": "20", "members": [], "ring_all": False}
    return {"name": group.name, "queue": group.queue, "ring_timeout_s": str(group.ring_timeout_s),
            "members": [str(m) for m in group.member_ids], "ring_all": group.ring_all}


def group_submitted(form: Form) -> dict[str, Any]:
    return {"name": text(form, "name"), "queue": text(form, "queue"), "ring_timeout_s": text(form, "ring_timeout_s"),
            "members": [v for v in form.getall("members", []) if isinstance(v, str)],
            "ring_all": form.get("ring_all") == "1"}


def group_input(form: Form, offered: Iterable[int]) -> GroupInput:
    """`offered`: the managers the form listed; anything else is refused as an unknown manager."""
    allowed = set(offered)
    members: list[int] = []
    for raw in form.getall("members", []):
        if (not isinstance(raw, str) or not raw.strip().isascii() or not raw.strip().isdigit()
                or len(raw.strip()) > 18 or int(raw) not in allowed):
            raise InvalidInput("members: unknown manager")
        members.append(int(raw))
    return GroupInput(name=text(form, "name"), queue=text(form, "queue"),
                      ring_timeout_s=_int(form, "ring_timeout_s", "ring timeout", 20), member_ids=tuple(members),
                      ring_all=form.get("ring_all") == "1")


# ---- rules ----------------------------------------------------------------------------------------------------

def rule_values(rule: RoutingRule | None, next_position: int = 100) -> dict[str, Any]:
    if rule is None:
        return {"position": str(next_position), "did": "", "channel": "", "customer_kind": "", "region": "",
                "group_id": "", "note": ""}
    return {"position": str(rule.position), "did": rule.did, "channel": rule.channel,
            "customer_kind": rule.customer_kind, "region": rule.region, "group_id": str(rule.group_id),
            "note": rule.note}


def rule_submitted(form: Form) -> dict[str, Any]:
    return {name: text(form, name) for name in ("position", "did", "channel", "customer_kind", "region", "group_id",
                                                "note")}


def rule_input(form: Form) -> RuleInput:
    group_raw = text(form, "group_id").strip()
    if not group_raw.isascii() or not group_raw.isdigit() or len(group_raw) > 18:
        raise InvalidInput("group: choose a group")
    return RuleInput(group_id=int(group_raw), position=_int(form, "position", "position", 100),
                     did=text(form, "did"), channel=text(form, "channel"), customer_kind=text(form, "customer_kind"),
                     region=text(form, "region"), note=text(form, "note"))


# ---- schedules ------------------------------------------------------------------------------------------------

def schedule_values(schedule: RoutingSchedule | None) -> dict[str, Any]:
    if schedule is None:
        days = [{"day": d, "open": DEFAULT_HOURS[d][0], "close": DEFAULT_HOURS[d][1], "closed": False,
                 "overnight": False} for d in WEEKDAYS]
        return {"did": "", "timezone": "Europe/Moscow", "after_hours_target": "voicemail:general", "days": days}
    hours = {h.weekday: h for h in schedule.hours}
    days = []
    for d in WEEKDAYS:
        entry = hours.get(d)
        days.append({"day": d, "open": entry.opens if entry else "", "close": entry.closes if entry else "",
                     "closed": entry is None, "overnight": bool(entry and entry.overnight)})
    return {"did": schedule.did, "timezone": schedule.timezone, "after_hours_target": schedule.after_hours_target,
            "days": days}


def schedule_submitted(form: Form) -> dict[str, Any]:
    days = [{"day": d, "open": text(form, f"open_{d}"), "close": text(form, f"close_{d}"),
             "closed": checkbox(form, f"closed_{d}"), "overnight": checkbox(form, f"overnight_{d}")} for d in WEEKDAYS]
    return {"did": text(form, "did"), "timezone": text(form, "timezone"),
            "after_hours_target": text(form, "after_hours_target"), "days": days}


def _day_hours(form: Form, day: int, tr: Translate) -> tuple[str, str] | None:
    if checkbox(form, f"closed_{day}"):
        return None
    name = tr(WEEKDAY_KEYS[day - 1])
    opens, closes = text(form, f"open_{day}").strip(), text(form, f"close_{day}").strip()
    if not opens and not closes:
        raise InvalidInput(tr("{day}: enter the opening and closing times or tick “closed”").format(day=name))
    open_min, close_min = parse_hhmm(opens), parse_hhmm(closes)
    if open_min is None or close_min is None or open_min == 1440:
        raise InvalidInput(tr("{day}: times as HH:MM, e.g. 09:00 and 21:00 (closing may be 24:00)").format(day=name))
    if close_min == open_min:
        raise InvalidInput(tr("{day}: the opening and closing times are the same").format(day=name))
    if close_min < open_min and not checkbox(form, f"overnight_{day}"):
        raise InvalidInput(tr("{day}: the closing time is before the opening time; for a night shift "
                              "tick “past midnight”").format(day=name))
    return opens, closes


def schedule_input(form: Form, tr: Translate, *, did: str | None = None) -> ScheduleInput:
    """`did`: the number to keep (the global schedule's ''), None to read it from the form."""
    timezone = text(form, "timezone").strip()
    if zone(timezone) is None:
        raise InvalidInput(tr("time zone: unknown; use a name like Europe/Moscow or Asia/Yekaterinburg"))
    hours: dict[int, tuple[str, str]] = {}
    for day in WEEKDAYS:
        pair = _day_hours(form, day, tr)
        if pair is not None:
            hours[day] = pair
    number = text(form, "did") if did is None else did
    if did is None and not number.strip():
        raise InvalidInput("number: required")
    return ScheduleInput(did=number, timezone=timezone, hours=hours,
                         after_hours_target=text(form, "after_hours_target"))


def holiday_input(form: Form) -> tuple[date, str]:
    try:
        day = date.fromisoformat(text(form, "day").strip())
    except ValueError as exc:
        raise InvalidInput("holiday: a date like 2025-01-01") from exc
    return day, text(form, "note")


# ---- numbers, settings, urgent statuses, caps -----------------------------------------------------------------

def number_input(form: Form) -> NumberInput:
    return NumberInput(did=text(form, "did"), channel=text(form, "channel"), label=text(form, "label"))


def settings_values(settings: RoutingSettings) -> dict[str, str]:
    return {"sticky_source": settings.sticky_source, "default_queue": settings.default_queue,
            "default_ring_timeout_s": str(settings.default_ring_timeout_s)}


def settings_submitted(form: Form) -> dict[str, str]:
    return {name: text(form, name) for name in ("sticky_source", "default_queue", "default_ring_timeout_s")}


def settings_input(form: Form) -> RoutingSettingsInput:
    raw = text(form, "sticky_source")
    source: StickySource | None = next((s for s in STICKY_SOURCES if s == raw), None)
    if source is None:
        raise InvalidInput(f"sticky source must be one of {', '.join(STICKY_SOURCES)}")
    return RoutingSettingsInput(sticky_source=source, default_queue=text(form, "default_queue"),
                                default_ring_timeout_s=_int(form, "default_ring_timeout_s", "default ring timeout", 20))


def urgent_input(form: Form) -> list[str]:
    return [v for v in form.getall("urgent", []) if isinstance(v, str)]


def caps_submitted(form: Form) -> dict[str, str]:
    return {name.removeprefix(CAP_PREFIX): text(form, name) for name in form if name.startswith(CAP_PREFIX)}


def caps_input(form: Form) -> dict[int, int]:
    caps: dict[int, int] = {}
    for key, raw in caps_submitted(form).items():
        if not key.isascii() or not key.isdigit() or len(key) > 18:
            raise InvalidInput("max concurrent calls: unknown manager")
        value = raw.strip()
        if not value.isascii() or not value.isdigit() or len(value) > 6:
            raise InvalidInput("max concurrent calls: 1-20")
        caps[int(key)] = int(value)
    if not caps:
        raise InvalidInput("max concurrent calls: nothing to save")
    return caps

"""Working hours for routing: which schedule applies to a dialled number, and whether it is open at a moment.

Pure functions (no clock: the moment is passed in), kept apart from the routing policy so the
calendar rules, the part most likely to be wrong at the edges, can be read and tested alone:

- A weekday's hours are a *shift* that starts on that day. `closes <= opens` means the shift runs
  past midnight and ends on the next day at `closes` (a night shift 20:00-02:00); `24:00` closes at
  midnight.
- A holiday cancels the shift that *starts* on that date; the end of the previous night's shift
  that spills into the holiday still counts as open.
- Dates and weekdays are those of the schedule's own time zone, not the server's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm.models import DayHours, RoutingSchedule

MINUTES_PER_DAY = 1440
_HHMM = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])$")


def parse_hhmm(text: str) -> int | None:
    """'09:30' -> 570; '24:00' -> 1440; None for anything else (including '24:30')."""
    match = _HHMM.match(text.strip())
    if match is None:
        return None
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    return minutes if minutes <= MINUTES_PER_DAY else None


def zone(name: str) -> ZoneInfo | None:
    """The time zone named `name`, or None when the system has no such zone."""
    if not name or len(name) > 64 or name.startswith("/") or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def schedule_for(schedules: Iterable[RoutingSchedule], did: str) -> RoutingSchedule | None:
    """The DID's own schedule, else the global one (did = ''), else None (always open)."""
    fallback = None
    for schedule in schedules:
        if did and schedule.did == did:
            return schedule
        if schedule.did == "":
            fallback = schedule
    return fallback


def _shift(hours: dict[int, DayHours], holidays: frozenset[date], day: date) -> tuple[int, int] | None:
    """The shift starting on `day` as (start, end) minutes from that day's midnight, None when closed."""
    if day in holidays:
        return None
    entry = hours.get(day.isoweekday())
    if entry is None or entry.opens_min == entry.closes_min:
        return None
    end = entry.closes_min + MINUTES_PER_DAY if entry.overnight else entry.closes_min
    return entry.opens_min, end


def is_open(schedule: RoutingSchedule, now: datetime) -> bool:
    """Whether the schedule is in working hours at `now` (an aware datetime; naive means UTC)."""
    tz = zone(schedule.timezone) or ZoneInfo("UTC")
    aware = now if now.tzinfo is not None else now.replace(tzinfo=ZoneInfo("UTC"))
    local = aware.astimezone(tz)
    minute = local.hour * 60 + local.minute
    hours = {h.weekday: h for h in schedule.hours}
    holidays = frozenset(h.day for h in schedule.holidays)
    today = local.date()
    shift = _shift(hours, holidays, today)
    if shift is not None and shift[0] <= minute < shift[1]:
        return True
    yesterday = _shift(hours, holidays, today - timedelta(days=1))
    return yesterday is not None and minute + MINUTES_PER_DAY < yesterday[1]


def describe_hours(schedule: RoutingSchedule) -> str:
    """'1 09:00-21:00, 2 ...' for explanations and logs."""
    return ", ".join(f"{h.weekday} {h.opens}-{h.closes}" for h in sorted(schedule.hours, key=lambda h: h.weekday))

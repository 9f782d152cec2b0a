"""Working-hours schedules (one per dialled number, plus the global one) and their holidays, as an admin edits them.

Validated before any SQL runs; refusals are `InvalidInput`, `NotFound` or `Conflict` as in
crm/routing/config.py. The calendar rules themselves (night shifts, holidays) are in crm/routing/hours.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import asyncpg

from crm.database import Pool
from crm.errors import Conflict, InvalidInput, NotFound
from crm.models import DayHours, Holiday, RoutingSchedule
from crm.phones import try_normalize_phone
from crm.routing.config import DEFAULT_HOURS, did_field
from crm.routing.hours import MINUTES_PER_DAY, parse_hhmm, zone
from crm.validation import clean_text

_TARGET = re.compile(r"^(voicemail:[A-Za-z0-9_@.-]{1,64}|dial:\+?[0-9]{3,20}|playback:[A-Za-z0-9_/.-]{1,100}|hangup)$")


def _after_hours_target(value: str) -> str:
    text = value.strip()
    if text.startswith("dial:"):
        e164 = try_normalize_phone(text[5:])
        text = f"dial:{e164}" if e164 else text
    if not _TARGET.match(text) or ".." in text:
        raise InvalidInput("after-hours target: 'voicemail:BOX', 'dial:+NUMBER', 'playback:SOUND' or 'hangup'")
    return text


@dataclass(frozen=True)
class ScheduleInput:
    """`hours`: ISO weekday (1 = Monday) -> ('HH:MM', 'HH:MM'); a missing weekday is closed all day.

    A closing time before the opening one runs past midnight; '24:00' closes at midnight.
    """

    did: str = ""
    timezone: str = "Europe/Moscow"
    hours: Mapping[int, tuple[str, str]] = field(default_factory=lambda: dict(DEFAULT_HOURS))
    after_hours_target: str = "voicemail:general"

    def validated(self) -> ScheduleInput:
        if zone(self.timezone.strip()) is None:
            raise InvalidInput(f"time zone: unknown {self.timezone[:64]!r}")
        hours: dict[int, tuple[str, str]] = {}
        for day, pair in self.hours.items():
            weekday = int(day) if isinstance(day, int) or str(day).isdigit() else 0
            if not 1 <= weekday <= 7 or len(pair) != 2:
                raise InvalidInput("hours: weekdays 1-7, each with an opening and a closing time")
            opens, closes = parse_hhmm(pair[0]), parse_hhmm(pair[1])
            if opens is None or closes is None or opens == MINUTES_PER_DAY:
                raise InvalidInput(f"hours of day {weekday}: times as HH:MM (closing may be 24:00)")
            if opens == closes:
                raise InvalidInput(f"hours of day {weekday}: opening and closing times are the same")
            hours[weekday] = (pair[0].strip(), pair[1].strip())
        return ScheduleInput(did_field(self.did, required=False), self.timezone.strip(), hours,
                             _after_hours_target(self.after_hours_target))

    def hours_json(self) -> dict[str, list[str]]:
        return {str(day): list(pair) for day, pair in sorted(self.hours.items())}


# ---- schedules and holidays -----------------------------------------------------------------------------------

SELECT_SCHEDULE = """
SELECT s.*, coalesce((SELECT json_agg(json_build_object('day', h.day, 'note', h.note) ORDER BY h.day)
                      FROM routing_holidays h WHERE h.schedule_id = s.id), '[]') AS holiday_list
FROM routing_schedules s
"""


def _schedule(row: asyncpg.Record) -> RoutingSchedule:
    hours = []
    for key, (opens, closes) in sorted(row["hours"].items()):
        o, c = parse_hhmm(opens), parse_hhmm(closes)
        if o is not None and c is not None:
            hours.append(DayHours(int(key), o, c))
    holidays = tuple(Holiday(date.fromisoformat(h["day"]), h["note"]) for h in row["holiday_list"])
    return RoutingSchedule(row["id"], row["did"], row["timezone"], tuple(hours), row["after_hours_target"], holidays)


async def list_schedules(pool: Pool) -> list[RoutingSchedule]:
    """The global schedule first, then per-number ones."""
    return [_schedule(r) for r in await pool.fetch(SELECT_SCHEDULE + " ORDER BY s.did, s.id")]


async def get_schedule(pool: Pool, schedule_id: int) -> RoutingSchedule:
    row = await pool.fetchrow(SELECT_SCHEDULE + " WHERE s.id = $1", schedule_id)
    if row is None:
        raise NotFound(f"no schedule {schedule_id}")
    return _schedule(row)


async def create_schedule(pool: Pool, data: ScheduleInput) -> RoutingSchedule:
    data = data.validated()
    try:
        schedule_id = await pool.fetchval(
            """INSERT INTO routing_schedules (did, timezone, hours, after_hours_target)
               VALUES ($1, $2, $3, $4) RETURNING id""", data.did, data.timezone, data.hours_json(),
            data.after_hours_target)
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"number {data.did or '(global)'} already has a schedule") from exc
    return await get_schedule(pool, schedule_id)


async def update_schedule(pool: Pool, schedule_id: int, data: ScheduleInput) -> RoutingSchedule:
    """Replace the schedule's fields; the global schedule stays global (its number cannot be set)."""
    data = data.validated()
    current = await get_schedule(pool, schedule_id)
    if (current.did == "") != (data.did == ""):
        raise InvalidInput("number: the global schedule has none, and a number's schedule needs one")
    try:
        await pool.execute(
            "UPDATE routing_schedules SET did = $2, timezone = $3, hours = $4, after_hours_target = $5 WHERE id = $1",
            schedule_id, data.did, data.timezone, data.hours_json(), data.after_hours_target)
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"number {data.did} already has a schedule") from exc
    return await get_schedule(pool, schedule_id)


async def delete_schedule(pool: Pool, schedule_id: int) -> None:
    """Delete a number's schedule (its calls then follow the global one); the global one cannot be deleted."""
    if (await get_schedule(pool, schedule_id)).did == "":
        raise Conflict("the global schedule cannot be deleted")
    await pool.execute("DELETE FROM routing_schedules WHERE id = $1", schedule_id)


async def add_holiday(pool: Pool, schedule_id: int, day: date, note: str = "") -> RoutingSchedule:
    """Close the schedule on `day` (a repeat only changes the note)."""
    note = clean_text(note, "note", max_len=200)
    try:
        await pool.execute(
            """INSERT INTO routing_holidays (schedule_id, day, note) VALUES ($1, $2, $3)
               ON CONFLICT (schedule_id, day) DO UPDATE SET note = EXCLUDED.note""", schedule_id, day, note)
    except asyncpg.ForeignKeyViolationError as exc:
        raise NotFound(f"no schedule {schedule_id}") from exc
    return await get_schedule(pool, schedule_id)


async def remove_holiday(pool: Pool, schedule_id: int, day: date) -> RoutingSchedule:
    await pool.execute("DELETE FROM routing_holidays WHERE schedule_id = $1 AND day = $2", schedule_id, day)
    return await get_schedule(pool, schedule_id)

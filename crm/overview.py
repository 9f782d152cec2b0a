"""The figures on the start pages: the head of sales' overview of the team and the day, and the operator's own.

Read from the call records and tasks as they are now; the pages refresh themselves when a call
starts or ends or someone's presence changes (web/live). "Today" is the shop's calendar day.
A missed call is "unreturned" while no later call with that number was answered, in either
direction: the same rule that will close callback tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm.database import Pool
from crm.models import Presence


@dataclass(frozen=True)
class TeamMember:
    manager_id: int
    name: str
    role: str
    presence: Presence
    presence_changed_at: datetime
    #: "talking", "ringing" or "" (no live call on their phone now).
    on_call: str
    overdue_tasks: int
    open_tasks: int


@dataclass(frozen=True)
class LiveCall:
    linkedid: str
    direction: str
    customer_id: int | None
    customer_name: str | None
    number: str | None
    operator: str | None
    started_at: datetime
    answered: bool


@dataclass(frozen=True)
class DayFigures:
    answered: int
    missed: int
    unreturned: int


@dataclass(frozen=True)
class UnreturnedCall:
    linkedid: str
    number: str
    customer_id: int | None
    customer_name: str | None
    started_at: datetime
    reason: str


TEAM = """
SELECT m.id, m.display_name, m.role, m.presence, m.presence_changed_at,
       coalesce((SELECT CASE WHEN bool_or(l.answered_at IS NOT NULL) THEN 'talking' ELSE 'ringing' END
                 FROM call_legs l JOIN calls c ON c.id = l.call_id
                 WHERE l.manager_id = m.id AND l.ended_at IS NULL AND c.outcome IS NULL), '') AS on_call,
       (SELECT count(*) FROM tasks t WHERE t.assignee_id = m.id AND t.status = 'open' AND t.due_at < now())
           AS overdue_tasks,
       (SELECT count(*) FROM tasks t WHERE t.assignee_id = m.id AND t.status = 'open') AS open_tasks
FROM managers m WHERE m.active AND m.role IN ('operator', 'supervisor')
ORDER BY (m.presence = 'online') DESC, m.display_name, m.id
"""

LIVE_CALLS = """
SELECT c.linkedid, c.direction, c.customer_id, cu.name AS customer_name, c.customer_e164, c.started_at,
       c.answered_at IS NOT NULL AS answered,
       (SELECT string_agg(DISTINCT coalesce(m.display_name, l.extension), ', ') FROM call_legs l
        LEFT JOIN managers m ON m.id = l.manager_id
        WHERE l.call_id = c.id AND l.extension IS NOT NULL AND l.ended_at IS NULL) AS operator
FROM calls c LEFT JOIN customers cu ON cu.id = c.customer_id
WHERE c.outcome IS NULL AND c.started_at > now() - interval '12 hours' {scope}
ORDER BY c.started_at
LIMIT 100
"""

# Missed inbound calls of the day with no answered call with that number after them.
UNRETURNED = """
FROM calls c LEFT JOIN customers cu ON cu.id = c.customer_id
WHERE c.direction = 'inbound' AND c.outcome IN ('missed', 'lost') AND c.started_at >= $1
  AND c.customer_e164 IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM calls later WHERE later.customer_e164 = c.customer_e164
                  AND later.started_at > c.started_at AND later.outcome = 'answered')
"""

DAY = """
SELECT count(*) FILTER (WHERE outcome = 'answered') AS answered,
       count(*) FILTER (WHERE outcome IN ('missed', 'lost')) AS missed
FROM calls WHERE direction = 'inbound' AND started_at >= $1
"""


async def team(pool: Pool) -> list[TeamMember]:
    rows = await pool.fetch(TEAM)
    return [TeamMember(r["id"], r["display_name"], r["role"], r["presence"], r["presence_changed_at"], r["on_call"],
                       int(r["overdue_tasks"]), int(r["open_tasks"])) for r in rows]


async def live_calls(pool: Pool, manager_id: int | None = None) -> list[LiveCall]:
    """Calls in progress now (a manager's own when `manager_id` is given)."""
    scope = "" if manager_id is None else (
        "AND EXISTS (SELECT 1 FROM call_legs ml WHERE ml.call_id = c.id AND ml.manager_id = $1 "
        "AND ml.ended_at IS NULL)")
    rows = await pool.fetch(LIVE_CALLS.format(scope=scope), *(() if manager_id is None else (manager_id,)))
    return [LiveCall(r["linkedid"], r["direction"], r["customer_id"], r["customer_name"], r["customer_e164"],
                     r["operator"], r["started_at"], r["answered"]) for r in rows]


async def day_figures(pool: Pool, day_start: datetime) -> DayFigures:
    row = await pool.fetchrow(DAY, day_start)
    unreturned = await pool.fetchval("SELECT count(DISTINCT c.customer_e164) " + UNRETURNED, day_start)
    assert row is not None
    return DayFigures(int(row["answered"]), int(row["missed"]), int(unreturned or 0))


async def unreturned_calls(pool: Pool, day_start: datetime, limit: int = 10) -> list[UnreturnedCall]:
    """The latest missed call of each number not called back yet today, oldest first (the longest waiting)."""
    rows = await pool.fetch(
        "SELECT DISTINCT ON (c.customer_e164) c.linkedid, c.customer_e164, c.customer_id, cu.name AS customer_name, "
        "c.started_at, c.reason " + UNRETURNED + " ORDER BY c.customer_e164, c.started_at DESC", day_start)
    ordered = sorted(rows, key=lambda r: r["started_at"])[:limit]
    return [UnreturnedCall(r["linkedid"], r["customer_e164"], r["customer_id"], r["customer_name"], r["started_at"],
                           r["reason"]) for r in ordered]

"""No missed call forgotten: the callback task of every missed call, its deadline, and its closing.

- A missed inbound call (no answer, busy, abandoned, queue timeout, after hours, unavailable,
  rejected, failed; lost calls and calls recovered after an outage alike) opens **one** callback task
  for its number, or updates the open one (one more missed call, the latest time, priority up).
  Hidden numbers are counted, never tasked; a call abandoned after ringing under `short_ring_s`
  gets no task while `exclude_short` is on.
- Assigned to the customer's responsible manager; else nobody: the supervisors' pool, also shown to
  the operators the call rang (crm/tasks.py scopes it).
- Due `deadline_minutes` working minutes after the call, on the schedule of the dialled number
  (else the shop's): a call at 23:40 is due five minutes after opening.
- Closed by the first answered call with that number after it, inbound or outbound, by anyone
  (result "reached", linked to that call). A callback that does not reach the customer is logged
  on the task, which stays open.

Every function is safe to run twice for the same call (jobs are retried, several workers run):
a call is counted once (`calls.callback_task_id`), and a partial unique index keeps one open
callback per number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from crm.database import Connection, Pool
from crm.errors import InvalidInput
from crm.models import RoutingSchedule
from crm.phones import format_phone
from crm.routing.data import load_routing_config
from crm.routing.hours import is_open, schedule_for

#: How far ahead a deadline is searched for opening hours (a schedule closed for longer: plain minutes).
SEARCH_DAYS = 14
MISSED = ("missed", "lost")
HIDDEN = ("restricted", "anonymous")


@dataclass(frozen=True)
class CallbackSettings:
    deadline_minutes: int = 5
    short_ring_s: int = 3
    exclude_short: bool = True
    require_next_contact: bool = False


@dataclass(frozen=True)
class MissedCallResult:
    """What a missed call did: the task it opened or updated, or why it has none."""

    task_id: int | None
    created: bool
    skipped: str = ""


def working_deadline(missed_at: datetime, minutes: int, schedule: RoutingSchedule | None) -> datetime:
    """`minutes` of working time after `missed_at`, to the minute (plain minutes when there is no schedule).

    Each minute from the call on counts when the schedule is open at its start; a call at 23:40 with
    opening at 09:00 is due at 09:05.
    """
    step = timedelta(minutes=1)
    if schedule is None:
        return missed_at + step * minutes
    moment, left = missed_at, minutes
    for _ in range(SEARCH_DAYS * 1440):
        if is_open(schedule, moment):
            left -= 1
            if left <= 0:
                return moment + step
        moment += step
    return missed_at + step * minutes  # never open within two weeks: do not wait for it


async def save_settings(pool: Pool, settings: CallbackSettings) -> CallbackSettings:
    if not 1 <= settings.deadline_minutes <= 10080:
        raise InvalidInput("the callback deadline is 1 to 10080 working minutes")
    if not 0 <= settings.short_ring_s <= 60:
        raise InvalidInput("a short abandoned call rang 0 to 60 seconds")
    await pool.execute("UPDATE callback_settings SET deadline_minutes = $1, short_ring_s = $2, exclude_short = $3, "
                       "require_next_contact = $4", settings.deadline_minutes, settings.short_ring_s,
                       settings.exclude_short, settings.require_next_contact)
    return settings


async def load_settings(pool: Pool | Connection) -> CallbackSettings:
    row = await pool.fetchrow("SELECT * FROM callback_settings")
    if row is None:
        return CallbackSettings()
    return CallbackSettings(row["deadline_minutes"], row["short_ring_s"], row["exclude_short"],
                            row["require_next_contact"])


CALL_FOR_CALLBACK = """
SELECT c.id, c.direction, c.outcome, c.reason, c.customer_e164, c.customer_id, c.order_id, c.did,
       c.caller_presentation, c.ring_s, c.started_at, coalesce(c.ended_at, c.started_at) AS ended_at,
       c.callback_task_id, cu.name AS customer_name, cu.responsible_manager_id,
       (SELECT m.active FROM managers m WHERE m.id = cu.responsible_manager_id) AS responsible_active,
       (SELECT o.id FROM orders o JOIN order_statuses s ON s.code = o.status
        WHERE o.customer_id = c.customer_id AND NOT s.is_final ORDER BY o.created_at DESC, o.id DESC LIMIT 1)
           AS open_order_id
FROM calls c LEFT JOIN customers cu ON cu.id = c.customer_id
WHERE c.linkedid = $1
FOR UPDATE OF c
"""

OPEN_OR_UPDATE = """
INSERT INTO tasks (kind, title, customer_id, order_id, call_id, assignee_id, due_at, phone, missed_calls,
                   last_missed_at)
VALUES ('callback', $1, $2, $3, $4, $5, $6, $7, 1, $8)
ON CONFLICT (phone) WHERE kind = 'callback' AND status = 'open' DO UPDATE SET
    missed_calls = tasks.missed_calls + 1, last_missed_at = greatest(tasks.last_missed_at, EXCLUDED.last_missed_at),
    priority = tasks.priority + 1,
    customer_id = coalesce(tasks.customer_id, EXCLUDED.customer_id), order_id = coalesce(tasks.order_id,
    EXCLUDED.order_id)
RETURNING id, (xmax = 0) AS created
"""


def callback_title(name: str | None, phone: str) -> str:
    who = name if name else format_phone(phone)
    return f"Перезвонить: {who}"[:300]


async def on_missed_call(pool: Pool, linkedid: str, *, settings: CallbackSettings | None = None) -> MissedCallResult:
    """Open or update the callback task of a missed call (once per call)."""
    settings = settings or await load_settings(pool)
    schedules = (await load_routing_config(pool)).schedules
    async with pool.acquire() as conn, conn.transaction():
        call = await conn.fetchrow(CALL_FOR_CALLBACK, linkedid[:64])
        if call is None:
            return MissedCallResult(None, False, "no such call")
        if call["callback_task_id"] is not None:
            return MissedCallResult(call["callback_task_id"], False, "already counted")
        if call["direction"] != "inbound" or call["outcome"] not in MISSED:
            return MissedCallResult(None, False, "not a missed inbound call")
        if call["customer_e164"] is None or call["caller_presentation"] in HIDDEN:
            return MissedCallResult(None, False, "hidden number")
        ring_s = call["ring_s"] or 0.0
        if settings.exclude_short and call["reason"] == "abandoned" and ring_s < settings.short_ring_s:
            return MissedCallResult(None, False, "abandoned within seconds")
        schedule = schedule_for(schedules, call["did"] or "")
        due = working_deadline(call["ended_at"], settings.deadline_minutes, schedule)
        assignee = call["responsible_manager_id"] if call["responsible_active"] else None
        row = await conn.fetchrow(OPEN_OR_UPDATE, callback_title(call["customer_name"], call["customer_e164"]),
                                  call["customer_id"], call["order_id"] or call["open_order_id"], call["id"],
                                  assignee, due, call["customer_e164"], call["ended_at"])
        assert row is not None
        await conn.execute("UPDATE calls SET callback_task_id = $2 WHERE id = $1", call["id"], row["id"])
        return MissedCallResult(row["id"], bool(row["created"]))


CLOSE_REACHED = """
UPDATE tasks SET status = 'done', outcome = 'reached', reached_call_id = $2, closed_at = now(),
                 result_note = CASE WHEN result_note = '' THEN $3 ELSE result_note END
WHERE kind = 'callback' AND status = 'open' AND phone = $1 AND last_missed_at <= $4
RETURNING id, assignee_id
"""

LOG_ATTEMPT = """
INSERT INTO callback_attempts (task_id, call_id, at, result)
SELECT t.id, $2, $3, $4 FROM tasks t WHERE t.kind = 'callback' AND t.status = 'open' AND t.phone = $1
ON CONFLICT (task_id, call_id) DO NOTHING
RETURNING task_id
"""


@dataclass(frozen=True)
class ReachedResult:
    closed_task_ids: tuple[int, ...]
    assignee_ids: tuple[int, ...]
    attempt_logged_on: tuple[int, ...]


async def on_call_ended(pool: Pool, linkedid: str) -> ReachedResult:
    """An answered call with a number closes its open callback ("reached"); an unanswered callback attempt
    (an outbound call that did not connect) is logged on it."""
    call = await pool.fetchrow("SELECT id, direction, outcome, reason, customer_e164, started_at, "
                               "coalesce(ended_at, started_at) AS ended_at FROM calls WHERE linkedid = $1",
                               linkedid[:64])
    if call is None or call["customer_e164"] is None:
        return ReachedResult((), (), ())
    if call["outcome"] == "answered":
        note = f"Дозвонились: {'входящий' if call['direction'] == 'inbound' else 'исходящий'} звонок"
        rows = await pool.fetch(CLOSE_REACHED, call["customer_e164"], call["id"], note, call["ended_at"])
        return ReachedResult(tuple(r["id"] for r in rows), tuple(r["assignee_id"] for r in rows
                                                                  if r["assignee_id"] is not None), ())
    if call["direction"] == "outbound":
        rows = await pool.fetch(LOG_ATTEMPT, call["customer_e164"], call["id"], call["ended_at"],
                                (call["reason"] or "not reached")[:32])
        return ReachedResult((), (), tuple(r["task_id"] for r in rows))
    return ReachedResult((), (), ())


@dataclass(frozen=True)
class OverdueAlert:
    alert_id: int
    task_id: int
    level: int
    title: str
    assignee_id: int | None


RAISE_OVERDUE = """
INSERT INTO alerts (kind, message, task_id, cause, level)
SELECT 'callback_overdue', 'Просрочен перезвон: ' || t.title, t.id, 'callback_overdue:' || t.id || ':' || $2::int, $2
FROM tasks t
WHERE t.kind = 'callback' AND t.status = 'open' AND t.due_at + make_interval(mins => $3) < $1
ON CONFLICT (cause) WHERE cause IS NOT NULL DO NOTHING
RETURNING id, task_id, level, message, (SELECT assignee_id FROM tasks WHERE id = task_id) AS assignee_id
"""


async def raise_overdue_alerts(pool: Pool, now: datetime, *, settings: CallbackSettings | None = None
                               ) -> list[OverdueAlert]:
    """One alert per overdue callback (level 1, at its deadline) and one escalation (level 2, a second
    deadline later); never twice for one cause, whichever worker runs this and however often."""
    settings = settings or await load_settings(pool)
    raised: list[OverdueAlert] = []
    for level, extra in ((1, 0), (2, settings.deadline_minutes)):
        for r in await pool.fetch(RAISE_OVERDUE, now, level, extra):
            raised.append(OverdueAlert(r["id"], r["task_id"], r["level"], r["message"], r["assignee_id"]))
    return raised

"""Alerts: what must not wait, raised once per cause and acknowledged by a person.

Two causes today:
- an overdue missed-call callback (crm/callbacks.py raises it, and its escalation);
- an order sitting in a status past that status's time limit (the limits stored with the workflow):
  first an alert to its manager, with a follow-up task for them ("no movement on order 10234 since the
  offer: call the customer"), then, a second limit later, an escalation to the supervisors.

"Once per cause" is a unique index on `alerts.cause` (migration 0018): any number of workers and
restarts raise each alert exactly once; a new status is a new cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from crm.callbacks import working_deadline
from crm.database import Pool
from crm.errors import AccessDenied, Conflict, NotFound
from crm.models import Manager
from crm.routing.data import load_routing_config
from crm.routing.hours import schedule_for


@dataclass(frozen=True)
class Alert:
    id: int
    kind: str
    message: str
    level: int
    task_id: int | None
    order_id: int | None
    order_number: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by_name: str | None
    #: Whom it concerns first: the task's assignee or the order's manager (None: the supervisors).
    owner_id: int | None


@dataclass(frozen=True)
class RaisedOrderAlert:
    alert_id: int
    order_id: int
    level: int
    message: str
    manager_id: int | None
    task_id: int | None


SELECT_ALERT = """
SELECT a.*, o.number AS order_number, m.display_name AS acknowledged_by_name,
       coalesce(t.assignee_id, o.manager_id, ot.manager_id) AS owner_id
FROM alerts a LEFT JOIN tasks t ON t.id = a.task_id LEFT JOIN orders o ON o.id = a.order_id
LEFT JOIN orders ot ON ot.id = t.order_id LEFT JOIN managers m ON m.id = a.acknowledged_by
"""


def _alert(row: asyncpg.Record) -> Alert:
    return Alert(row["id"], row["kind"], row["message"], row["level"], row["task_id"], row["order_id"],
                 row["order_number"], row["created_at"], row["acknowledged_at"], row["acknowledged_by_name"],
                 row["owner_id"])


async def list_alerts(pool: Pool, viewer: Manager, *, open_only: bool = True, limit: int = 100) -> list[Alert]:
    """Newest first; supervisors see all, an operator the alerts about their own tasks and orders."""
    conditions = []
    if open_only:
        conditions.append("a.acknowledged_at IS NULL")
    args: list[object] = [max(1, min(limit, 500))]
    if not viewer.sees_everything:
        args.append(viewer.id)
        conditions.append("coalesce(t.assignee_id, o.manager_id, ot.manager_id) = $2")
    where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    rows = await pool.fetch(SELECT_ALERT + where + " ORDER BY a.created_at DESC, a.id DESC LIMIT $1", *args)
    return [_alert(r) for r in rows]


async def acknowledge(pool: Pool, alert_id: int, viewer: Manager) -> Alert:
    row = await pool.fetchrow(SELECT_ALERT + " WHERE a.id = $1", alert_id)
    if row is None:
        raise NotFound(f"no alert {alert_id}")
    alert = _alert(row)
    if not viewer.sees_everything and alert.owner_id != viewer.id:
        raise AccessDenied("this alert is about another manager's work")
    done = await pool.fetchval("UPDATE alerts SET acknowledged_at = now(), acknowledged_by = $2 "
                               "WHERE id = $1 AND acknowledged_at IS NULL RETURNING id", alert_id, viewer.id)
    if done is None:
        raise Conflict(f"alert {alert_id} is already acknowledged")
    row = await pool.fetchrow(SELECT_ALERT + " WHERE a.id = $1", alert_id)
    assert row is not None
    return _alert(row)


async def open_count(pool: Pool, viewer: Manager) -> int:
    return len(await list_alerts(pool, viewer, limit=500))


# Orders past their status's limit: level 1 after one limit, level 2 (supervisors) after two.
RAISE_ORDER = """
INSERT INTO alerts (kind, message, order_id, cause, level)
SELECT 'order_time_limit',
       'Заказ № ' || o.number || ' дольше срока в статусе «' || s.title_ru || '»', o.id,
       'order_limit:' || o.id || ':' || o.status || ':' || extract(epoch FROM o.status_changed_at)::bigint
           || ':' || $2::int,
       $2
FROM orders o JOIN order_statuses s ON s.code = o.status
WHERE NOT s.is_final AND s.time_limit IS NOT NULL AND o.status_changed_at + s.time_limit * $2 < $1
ON CONFLICT (cause) WHERE cause IS NOT NULL DO NOTHING
RETURNING id, order_id, level, message, (SELECT manager_id FROM orders WHERE id = order_id) AS manager_id
"""

FOLLOW_UP = """
INSERT INTO tasks (kind, title, customer_id, order_id, assignee_id, due_at)
SELECT 'follow_up', 'Нет движения по заказу № ' || o.number || ': связаться с клиентом', o.customer_id, o.id,
       o.manager_id, $2
FROM orders o WHERE o.id = $1
RETURNING id
"""


async def raise_order_limit_alerts(pool: Pool, now: datetime) -> list[RaisedOrderAlert]:
    """Open orders past their status's time limit: one alert and one follow-up task for the manager, then
    one escalation; a later status (or a new stay in the status) is a new cause."""
    raised: list[RaisedOrderAlert] = []
    # The follow-up is due when the shop is open: an order that goes late at night is called about at opening.
    due = working_deadline(now, 1, schedule_for((await load_routing_config(pool)).schedules, ""))
    for level in (1, 2):
        async with pool.acquire() as conn, conn.transaction():
            for r in await conn.fetch(RAISE_ORDER, now, level):
                task_id = None
                if level == 1:
                    task_id = await conn.fetchval(FOLLOW_UP, r["order_id"], due)
                    await conn.execute("UPDATE alerts SET task_id = $2 WHERE id = $1", r["id"], task_id)
                raised.append(RaisedOrderAlert(r["id"], r["order_id"], r["level"], r["message"], r["manager_id"],
                                               task_id))
    return raised


@dataclass(frozen=True)
class Reminder:
    task_id: int
    assignee_id: int
    title: str
    due_at: datetime


REMIND = """
UPDATE tasks SET reminded_at = $1
WHERE status = 'open' AND due_at <= $1 AND reminded_at IS NULL AND assignee_id IS NOT NULL
RETURNING id, assignee_id, title, due_at
"""


async def due_reminders(pool: Pool, now: datetime) -> list[Reminder]:
    """Tasks that have come due and were not reminded of yet, marked reminded (each once, by one worker)."""
    return [Reminder(r["id"], r["assignee_id"], r["title"], r["due_at"]) for r in await pool.fetch(REMIND, now)]

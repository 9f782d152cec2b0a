"""Tasks: callbacks, follow-ups and custom to-dos, with assignee, due time and a result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from crm.database import Pool
from crm.errors import AccessDenied, Conflict, InvalidInput, NotFound
from crm.models import TASK_KINDS, TASK_STATUSES, Manager, Page, Task, TaskKind, TaskStatus
from crm.sql import SqlParams
from crm.validation import check_moment, clean_text

SELECT_TASK = """
SELECT t.*, c.name AS customer_name, c.responsible_manager_id AS customer_responsible_id,
       o.number AS order_number, m.display_name AS assignee_name,
       (SELECT count(*) FROM callback_attempts a WHERE a.task_id = t.id) AS attempts
FROM tasks t LEFT JOIN customers c ON c.id = t.customer_id LEFT JOIN orders o ON o.id = t.order_id
LEFT JOIN managers m ON m.id = t.assignee_id
"""


@dataclass(frozen=True)
class TaskInput:
    kind: TaskKind
    title: str
    customer_id: int | None = None
    order_id: int | None = None
    call_id: int | None = None
    assignee_id: int | None = None
    due_at: datetime | None = None


@dataclass(frozen=True)
class TaskFilter:
    assignee_id: int | None = None
    unassigned: bool = False
    status: TaskStatus | None = None
    kind: TaskKind | None = None
    customer_id: int | None = None


def _task(row: asyncpg.Record) -> Task:
    return Task(
        id=row["id"], kind=row["kind"], title=row["title"], customer_id=row["customer_id"],
        customer_name=row["customer_name"], order_id=row["order_id"], order_number=row["order_number"],
        call_id=row["call_id"], assignee_id=row["assignee_id"], assignee_name=row["assignee_name"],
        due_at=row["due_at"], status=row["status"], result_note=row["result_note"],
        created_by_id=row["created_by_id"], created_at=row["created_at"], closed_at=row["closed_at"],
        phone=row["phone"], missed_calls=row["missed_calls"], priority=row["priority"], outcome=row["outcome"],
        attempts=row["attempts"],
    )


#: An unassigned missed-call callback (it has the number: crm/callbacks.py) is the supervisors' pool, shown
#: also to the operators the call rang, never to everyone.
RANG = "EXISTS (SELECT 1 FROM call_legs rl WHERE rl.call_id = t.call_id AND rl.manager_id = {p})"


def can_see_task(viewer: Manager, task: Task, customer_responsible_id: int | None, *, rang_viewer: bool = False
                 ) -> bool:
    """Supervisors and admins see every task; an operator sees the tasks assigned to them, and unassigned
    ones only where they may see the customer (their own or an unassigned customer, or no customer); an
    unassigned missed-call callback only when the call rang them."""
    if viewer.sees_everything or task.assignee_id == viewer.id:
        return True
    if task.assignee_id is not None:
        return False
    if task.phone is not None:
        return rang_viewer
    return customer_responsible_id in (None, viewer.id)


async def create_task(pool: Pool, data: TaskInput, created_by: int | None) -> Task:
    """Create a task; `created_by=None` means the system (e.g. the missed-call policy)."""
    if data.kind not in TASK_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(TASK_KINDS)}")
    title = clean_text(data.title, "title", max_len=300, min_len=1)
    if data.due_at is not None and data.due_at.tzinfo is None:
        raise InvalidInput("due_at needs a time zone")
    if data.due_at is not None:
        check_moment(data.due_at, "due_at")
    try:
        task_id = await pool.fetchval(
            """INSERT INTO tasks (kind, title, customer_id, order_id, call_id, assignee_id, due_at, created_by_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
            data.kind, title, data.customer_id, data.order_id, data.call_id, data.assignee_id, data.due_at,
            created_by)
    except asyncpg.ForeignKeyViolationError as exc:
        raise InvalidInput("the task links to a customer, order, call or manager that does not exist") from exc
    return await get_task(pool, task_id)


async def get_task(pool: Pool, task_id: int, viewer: Manager | None = None) -> Task:
    row = await pool.fetchrow(SELECT_TASK + " WHERE t.id = $1", task_id)
    if row is None:
        raise NotFound(f"no task {task_id}")
    task = _task(row)
    if viewer is not None:
        rang = task.phone is not None and task.assignee_id is None and bool(await pool.fetchval(
            "SELECT " + RANG.format(p="$2") + " FROM tasks t WHERE t.id = $1", task_id, viewer.id))
        if not can_see_task(viewer, task, row["customer_responsible_id"], rang_viewer=rang):
            raise AccessDenied("this task belongs to another manager")
    return task


async def close_task(pool: Pool, task_id: int, viewer: Manager, *, status: TaskStatus = "done",
                     result_note: str = "", next_contact_at: datetime | None = None) -> Task:
    """Complete (or cancel) an open task with a result note; closing twice is a conflict.

    A missed call's callback (crm/callbacks.py) closed by hand needs what the conversation came to (a
    result note), and a next-contact date when the shop's callback settings ask for one; any given date
    becomes a follow-up task. Callback tasks people create themselves are ordinary to-dos.
    """
    if status not in ("done", "cancelled"):
        raise InvalidInput("a task closes as done or cancelled")
    note = clean_text(result_note, "result note", max_len=5000, multiline=True)
    task = await get_task(pool, task_id, viewer)
    if task.kind == "callback" and task.phone is not None:
        if not note.strip():
            raise InvalidInput("a callback is closed with a note of what the conversation came to")
        needs_date = bool(await pool.fetchval("SELECT require_next_contact FROM callback_settings"))
        if needs_date and next_contact_at is None and status == "done":
            raise InvalidInput("a callback is closed with the date of the next contact")
    if next_contact_at is not None:
        check_moment(next_contact_at, "next contact")
    closed = await pool.fetchval(
        """UPDATE tasks SET status = $2, result_note = $3, closed_at = now(),
                            outcome = CASE WHEN kind = 'callback' THEN 'manual' ELSE outcome END
           WHERE id = $1 AND status = 'open' RETURNING id""", task_id, status, note)
    if closed is None:
        raise Conflict(f"task {task_id} is already closed")
    if next_contact_at is not None:
        await create_task(pool, TaskInput(kind="follow_up", title=f"Следующий контакт: {task.title}"[:300],
                                          customer_id=task.customer_id, order_id=task.order_id, call_id=task.call_id,
                                          assignee_id=task.assignee_id or viewer.id, due_at=next_contact_at),
                          viewer.id)
    return await get_task(pool, task_id)


async def list_tasks(pool: Pool, viewer: Manager, flt: TaskFilter, *, limit: int = 50, offset: int = 0) -> Page:
    """Tasks the viewer may see, open and overdue first (earliest due first), then newest."""
    if flt.status is not None and flt.status not in TASK_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(TASK_STATUSES)}")
    if flt.kind is not None and flt.kind not in TASK_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(TASK_KINDS)}")
    limit = max(1, min(limit, 200))
    conditions: list[str] = []
    arg = SqlParams()

    if not viewer.sees_everything:
        me = arg(viewer.id)
        conditions.append(f"(t.assignee_id = {me} OR (t.assignee_id IS NULL AND t.phone IS NULL"
                          f" AND (c.responsible_manager_id IS NULL OR c.responsible_manager_id = {me}))"
                          f" OR (t.assignee_id IS NULL AND t.phone IS NOT NULL AND {RANG.format(p=me)}))")
    if flt.assignee_id is not None:
        conditions.append(f"t.assignee_id = {arg(flt.assignee_id)}")
    if flt.unassigned:
        conditions.append("t.assignee_id IS NULL")
    if flt.status is not None:
        conditions.append(f"t.status = {arg(flt.status)}")
    if flt.kind is not None:
        conditions.append(f"t.kind = {arg(flt.kind)}")
    if flt.customer_id is not None:
        conditions.append(f"t.customer_id = {arg(flt.customer_id)}")
    where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    # coalesce: an open task with no due time is not overdue; a bare NULL would sort first under DESC.
    order = (" ORDER BY (t.status = 'open') DESC, coalesce(t.status = 'open' AND t.due_at < now(), false) DESC,"
             " t.due_at ASC NULLS LAST, t.id DESC")
    rows = await pool.fetch(SELECT_TASK + where + order + f" LIMIT {arg(limit + 1)} OFFSET {arg(max(0, offset))}",
                            *arg.values)
    return Page(items=tuple(_task(r) for r in rows[:limit]), has_more=len(rows) > limit)


OPEN_CUSTOMER_TASKS = SELECT_TASK + """
WHERE t.customer_id = $1 AND t.status = 'open'
ORDER BY (t.kind = 'callback') DESC, t.due_at ASC NULLS LAST, t.id DESC LIMIT $2
"""


async def open_customer_tasks(pool: Pool, customer_id: int, *, limit: int = 5) -> list[Task]:
    """A customer's open tasks, callbacks first, then by due time: what the screen-pop lists."""
    rows = await pool.fetch(OPEN_CUSTOMER_TASKS, customer_id, max(1, min(limit, 50)))
    return [_task(r) for r in rows]

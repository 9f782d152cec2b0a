"""Follow-ups the operator promised in a call («перезвоню завтра»), proposed as tasks they confirm or dismiss.

A suggestion is the operator's to decide (the call's operator; supervisors may decide any). Confirming
creates a follow-up task for them, due when the promise said, linked to the call, customer and order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from crm import tasks
from crm.database import Pool
from crm.errors import InvalidInput, NotFound
from crm.models import Manager, Task
from crm.tasks import TaskInput


@dataclass(frozen=True)
class Suggestion:
    id: int
    transcript_id: int
    call_id: int
    title: str
    phrase: str
    due_at: datetime | None
    state: str
    customer_id: int | None
    customer_name: str | None


SELECT = """
SELECT s.*, c.customer_id, cu.name AS customer_name, c.order_id
FROM task_suggestions s JOIN calls c ON c.id = s.call_id LEFT JOIN customers cu ON cu.id = c.customer_id
"""


def _suggestion(row: asyncpg.Record) -> Suggestion:
    return Suggestion(row["id"], row["transcript_id"], row["call_id"], row["title"], row["phrase"], row["due_at"],
                      row["state"], row["customer_id"], row["customer_name"])


async def open_for(pool: Pool, viewer: Manager, *, transcript_id: int | None = None) -> list[Suggestion]:
    """Suggestions waiting for `viewer` (all of them for supervisors), optionally of one transcript."""
    where = " WHERE s.state = 'suggested' AND ($1::bigint IS NULL OR s.transcript_id = $1)"
    args: list[object] = [transcript_id]
    if not viewer.sees_everything:
        where += " AND s.manager_id = $2"
        args.append(viewer.id)
    rows = await pool.fetch(SELECT + where + " ORDER BY s.due_at NULLS LAST, s.id LIMIT 50", *args)
    return [_suggestion(r) for r in rows]


async def _decidable(pool: Pool, suggestion_id: int, viewer: Manager) -> tuple[Suggestion, int | None]:
    row = await pool.fetchrow(SELECT + " WHERE s.id = $1", suggestion_id)
    if row is None or not (viewer.sees_everything or row["manager_id"] == viewer.id):
        raise NotFound(f"no task suggestion {suggestion_id}")
    if row["state"] != "suggested":
        raise InvalidInput("this suggestion has already been decided")
    return _suggestion(row), row["order_id"]


async def accept(pool: Pool, suggestion_id: int, viewer: Manager) -> Task:
    suggestion, order_id = await _decidable(pool, suggestion_id, viewer)
    task = await tasks.create_task(pool, TaskInput(
        kind="follow_up", title=suggestion.title, customer_id=suggestion.customer_id, order_id=order_id,
        call_id=suggestion.call_id, assignee_id=viewer.id, due_at=suggestion.due_at), viewer.id)
    done = await pool.execute("UPDATE task_suggestions SET state = 'accepted', task_id = $2 WHERE id = $1 "
                              "AND state = 'suggested'", suggestion_id, task.id)
    if done.endswith(" 0"):  # decided meanwhile by another tab: keep one outcome
        await pool.execute("DELETE FROM tasks WHERE id = $1", task.id)
        raise InvalidInput("this suggestion has already been decided")
    return task


async def dismiss(pool: Pool, suggestion_id: int, viewer: Manager) -> None:
    await _decidable(pool, suggestion_id, viewer)
    await pool.execute("UPDATE task_suggestions SET state = 'dismissed' WHERE id = $1 AND state = 'suggested'",
                       suggestion_id)

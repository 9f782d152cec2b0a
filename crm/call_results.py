"""What a call came to: the operator's call result (a disposition code), a quick note, a follow-up task.

Given on the screen-pop during or after the call. Only someone the call involved (who took it,
placed it, or whose phone it rang) or a supervisor may record it; the note goes to the customer's
notes with the call remembered, and the task is linked to the call, the customer and the call's order.
Codes are data an admin edits (`call_dispositions`, migration 0013).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from crm import customers, tasks
from crm.database import Pool
from crm.errors import AccessDenied, InvalidInput, NotFound
from crm.models import Manager, Note, Task, TaskKind
from crm.tasks import TaskInput
from crm.validation import clean_text

CODE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


@dataclass(frozen=True)
class Disposition:
    code: str
    title_ru: str
    title_en: str
    position: int
    active: bool

    def title(self, locale: str) -> str:
        return self.title_ru if locale == "ru" else self.title_en


@dataclass(frozen=True)
class FollowUp:
    """The task the operator asked for: what, by when."""

    title: str
    due_at: datetime | None
    kind: TaskKind = "callback"


@dataclass(frozen=True)
class CallResult:
    disposition: str | None
    note: Note | None
    task: Task | None


async def list_dispositions(pool: Pool, *, active_only: bool = True) -> list[Disposition]:
    rows = await pool.fetch("SELECT * FROM call_dispositions" + (" WHERE active" if active_only else "")
                            + " ORDER BY position, code")
    return [Disposition(r["code"], r["title_ru"], r["title_en"], r["position"], r["active"]) for r in rows]


async def save_disposition(pool: Pool, data: Disposition) -> Disposition:
    """Add a code or change one (titles, order, active); the code itself is the key."""
    if not re.fullmatch(CODE_PATTERN, data.code):
        raise InvalidInput("code: a lower-case latin letter, then up to 31 letters, digits or _")
    title_ru = clean_text(data.title_ru, "Russian title", max_len=80, min_len=1)
    title_en = clean_text(data.title_en, "English title", max_len=80, min_len=1)
    if not -1000 <= data.position <= 1000:
        raise InvalidInput("position: -1000..1000")
    await pool.execute(
        """INSERT INTO call_dispositions (code, title_ru, title_en, position, active) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (code) DO UPDATE SET title_ru = EXCLUDED.title_ru, title_en = EXCLUDED.title_en,
               position = EXCLUDED.position, active = EXCLUDED.active""",
        data.code, title_ru, title_en, data.position, data.active)
    return Disposition(data.code, title_ru, title_en, data.position, data.active)


CALL_FOR_RESULT = """
SELECT c.id, c.customer_id, c.order_id, c.manager_id,
       EXISTS (SELECT 1 FROM call_legs l WHERE l.call_id = c.id AND l.manager_id = $2) AS rang_viewer,
       EXISTS (SELECT 1 FROM click_to_call r WHERE r.linkedid = c.linkedid AND r.manager_id = $2) AS placed_by_viewer
FROM calls c WHERE c.linkedid = $1
"""


async def record_result(pool: Pool, linkedid: str, viewer: Manager, *, disposition: str | None = None,
                        note: str | None = None, follow_up: FollowUp | None = None) -> CallResult:
    """Record what the call came to; any of the three parts may be given, at least one must be."""
    if disposition is None and not (note or "").strip() and follow_up is None:
        raise InvalidInput("give a call result, a note or a task")
    call = await pool.fetchrow(CALL_FOR_RESULT, linkedid[:64], viewer.id)
    if call is None:
        raise NotFound("no such call")
    involved = call["manager_id"] == viewer.id or call["rang_viewer"] or call["placed_by_viewer"]
    if not (viewer.sees_everything or involved):
        raise AccessDenied("this call did not involve you")
    if disposition is not None:
        try:
            updated = await pool.execute(
                "UPDATE calls SET disposition = $2, disposition_by = $3, disposition_at = now() WHERE id = $1 "
                "AND EXISTS (SELECT 1 FROM call_dispositions WHERE code = $2 AND active)",
                call["id"], disposition, viewer.id)
        except asyncpg.DataError as exc:
            raise InvalidInput("unknown call result") from exc
        if updated.endswith(" 0"):
            raise InvalidInput(f"unknown call result {disposition[:32]!r}")
    written: Note | None = None
    if (note or "").strip():
        if call["customer_id"] is None:
            raise InvalidInput("this call has no customer to write the note on")
        written = await customers.add_note(pool, call["customer_id"], viewer.id, note or "", order_id=call["order_id"])
        await pool.execute("UPDATE notes SET call_id = $2 WHERE id = $1", written.id, call["id"])
    task: Task | None = None
    if follow_up is not None:
        task = await tasks.create_task(pool, TaskInput(
            kind=follow_up.kind, title=follow_up.title, customer_id=call["customer_id"], order_id=call["order_id"],
            call_id=call["id"], assignee_id=viewer.id, due_at=follow_up.due_at), viewer.id)
    return CallResult(disposition=disposition, note=written, task=task)

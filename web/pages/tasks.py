"""Task pages: the task list (my open tasks, overdue first), completing a task, creating one on a card.

Operators see their own and unassigned tasks; supervisors and admins may look at anyone's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from crm import customers, managers, tasks
from crm.errors import InvalidInput
from crm.models import TASK_KINDS, TASK_STATUSES, Manager, TaskKind, TaskStatus
from crm.tasks import TaskFilter, TaskInput
from web.errors import error_message
from web.keys import POOL, current_user
from web.live import announce
from web.pages.customers import render_card
from web.pages.forms import (
    optional_int,
    parse_local_datetime,
    path_int,
    query_int,
    redirect,
    safe_next,
    shop_zone,
    text,
)
from web.render import render

PAGE_SIZE = 50


def _filter(request: web.Request, user: Manager) -> tuple[TaskFilter, dict[str, str]]:
    """The list filter from the query string, and the values the filter form shows."""
    status_raw = request.query.get("status", "open")
    kind_raw = request.query.get("kind", "")
    assignee_raw = request.query.get("assignee", "me")
    status: TaskStatus | None = next((s for s in TASK_STATUSES if s == status_raw), None)
    kind: TaskKind | None = next((k for k in TASK_KINDS if k == kind_raw), None)
    assignee_id: int | None = user.id
    unassigned = False
    if assignee_raw == "none":
        assignee_id, unassigned = None, True
    elif assignee_raw == "all" and user.sees_everything:
        assignee_id = None
    elif assignee_raw.isascii() and assignee_raw.isdigit() and len(assignee_raw) <= 18 and user.sees_everything:
        assignee_id = int(assignee_raw)
    else:
        assignee_raw = "me"
    shown = {"status": status or "any", "kind": kind or "", "assignee": assignee_raw}
    return TaskFilter(assignee_id=assignee_id, unassigned=unassigned, status=status, kind=kind), shown


async def task_list(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    pool = request.app[POOL]
    flt, shown = _filter(request, user)
    offset = query_int(request, "offset")
    page = await tasks.list_tasks(pool, user, flt, limit=PAGE_SIZE, offset=offset)
    staff = await managers.list_managers(pool) if user.sees_everything else []
    return render("tasks/list.html", request, {
        "tasks": page.items, "has_more": page.has_more, "offset": offset, "page_size": PAGE_SIZE,
        "filter": shown, "managers": staff, "statuses": TASK_STATUSES, "kinds": TASK_KINDS,
        "now": datetime.now(UTC),
    })


async def complete(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    task_id = path_int(request, "task_id")
    form = await request.post()
    outcome: TaskStatus = "cancelled" if text(form, "outcome") == "cancelled" else "done"
    next_contact = parse_local_datetime(text(form, "next_contact_at"), shop_zone(request.app), "next contact")
    closed = await tasks.close_task(request.app[POOL], task_id, user, status=outcome,
                                    result_note=text(form, "result_note"), next_contact_at=next_contact)
    await announce.tasks_changed(request.app, closed.assignee_id, user.id)
    raise redirect(safe_next(text(form, "next", "/tasks"), "/tasks"))


async def create_for_customer(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    pool = request.app[POOL]
    customer_id = path_int(request, "customer_id")
    customer = await customers.get_customer(pool, customer_id, user)
    form = await request.post()
    values: dict[str, Any] = {"kind": text(form, "kind"), "title": text(form, "title"),
                              "due_at": text(form, "due_at"), "assignee_id": text(form, "assignee_id")}
    try:
        kind: TaskKind | None = next((k for k in TASK_KINDS if k == values["kind"]), None)
        if kind is None:
            raise InvalidInput(f"kind must be one of {', '.join(TASK_KINDS)}")
        task = await tasks.create_task(pool, TaskInput(
            kind=kind, title=values["title"], customer_id=customer.id,
            assignee_id=optional_int(form, "assignee_id", "assignee"),
            due_at=parse_local_datetime(values["due_at"], shop_zone(request.app), "due")), user.id)
        await announce.tasks_changed(request.app, task.assignee_id)
    except InvalidInput as exc:
        error = error_message(request, exc)
        return await render_card(request, customer.id, {"task_error": error, "task_values": values},
                                 status=422)
    raise redirect(f"/customers/{customer.id}#tasks")


def setup(app: web.Application) -> None:
    app.router.add_get("/tasks", task_list)
    app.router.add_post("/tasks/{task_id:\\d+}/complete", complete)
    app.router.add_post("/customers/{customer_id:\\d+}/tasks", create_for_customer)

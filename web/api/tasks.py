"""Tasks over the API: the operator's to-do list (filtered, role-scoped), create, read, complete."""

from __future__ import annotations

from aiohttp import web

from crm import tasks
from crm.models import TASK_KINDS, TASK_STATUSES
from crm.tasks import TaskFilter, TaskInput
from web.api.customers import check_customer_ref
from web.api.json_io import MAX_ID, Body, invalid, json_response, page_response, paging, path_id, query_choice
from web.api.orders import check_order_ref
from web.keys import POOL, current_user
from web.live import announce

CREATE_FIELDS = ("kind", "title", "customer_id", "order_id", "assignee_id", "due_at")
COMPLETE_FIELDS = ("result_note",)
MAX_LIMIT = 200


def task_filter(request: web.Request) -> TaskFilter:
    """`assignee` is a manager id, `me` or `none` (unassigned); `status` and `kind` pick one value each."""
    assignee = request.query.get("assignee", "")
    assignee_id: int | None = None
    if assignee == "me":
        assignee_id = current_user(request).id
    elif assignee.isascii() and assignee.isdigit() and len(assignee) <= 19 and 1 <= int(assignee) <= MAX_ID:
        assignee_id = int(assignee)
    elif assignee not in ("", "none"):
        raise invalid("assignee: a manager id, 'me' or 'none'")
    return TaskFilter(assignee_id=assignee_id, unassigned=assignee == "none",
                      status=query_choice(request, "status", TASK_STATUSES),
                      kind=query_choice(request, "kind", TASK_KINDS))


async def list_tasks(request: web.Request) -> web.Response:
    viewer = current_user(request)
    limit, offset = paging(request, default_limit=50, max_limit=MAX_LIMIT)
    page = await tasks.list_tasks(request.app[POOL], viewer, task_filter(request), limit=limit, offset=offset)
    return page_response(page, limit, offset)


async def get_task(request: web.Request) -> web.Response:
    return json_response(await tasks.get_task(request.app[POOL], path_id(request), current_user(request)))


async def create_task(request: web.Request) -> web.Response:
    viewer = current_user(request)
    pool = request.app[POOL]
    body = await Body.read(request, CREATE_FIELDS)
    data = TaskInput(kind=body.choice("kind", TASK_KINDS, "custom"), title=body.text("title"),
                     customer_id=body.opt_id("customer_id"), order_id=body.opt_id("order_id"),
                     assignee_id=body.opt_id("assignee_id"), due_at=body.opt_datetime("due_at"))
    # A task may only point at records its creator can see.
    if data.customer_id is not None:
        await check_customer_ref(pool, data.customer_id, viewer)
    if data.order_id is not None:
        await check_order_ref(pool, data.order_id, viewer)
    task = await tasks.create_task(pool, data, viewer.id)
    await announce.tasks_changed(request.app, task.assignee_id)
    return json_response(task, status=201, headers={"Location": f"/api/v1/tasks/{task.id}"})


async def complete_task(request: web.Request) -> web.Response:
    body = await Body.read(request, COMPLETE_FIELDS, allow_empty=True)
    task = await tasks.close_task(request.app[POOL], path_id(request), current_user(request),
                                  result_note=body.text("result_note", ""))
    await announce.tasks_changed(request.app, task.assignee_id)
    return json_response(task)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/tasks", list_tasks, allow_head=False)
    router.add_post("/api/v1/tasks", create_task)
    router.add_get(r"/api/v1/tasks/{id:[0-9]+}", get_task, allow_head=False)
    router.add_post(r"/api/v1/tasks/{id:[0-9]+}/complete", complete_task)

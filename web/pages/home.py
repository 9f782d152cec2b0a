"""The start page: the search box an operator needs first, and their open tasks."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from crm import tasks
from crm.tasks import TaskFilter
from web.keys import POOL, current_user
from web.render import render

HOME_TASKS = 10


async def home_page(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    page = await tasks.list_tasks(request.app[POOL], user, TaskFilter(assignee_id=user.id, status="open"),
                                  limit=HOME_TASKS)
    return render("home.html", request, {"tasks": page.items, "has_more": page.has_more,
                                         "now": datetime.now(UTC)})


def setup(app: web.Application) -> None:
    app.router.add_get("/", home_page)

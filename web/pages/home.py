"""The start page: for an operator their current call, open tasks and recent calls; for the head of sales
the team (who is online, on a call, away), calls in progress, today's answered / missed / unreturned
calls and overdue tasks per manager. Both refresh themselves over the live connection."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time
from typing import Any

from aiohttp import web

from crm import calls, overview, tasks
from crm.calls import CallFilter
from crm.tasks import TaskFilter
from web.keys import POOL, SETTINGS, current_user
from web.pages.forms import shop_zone
from web.render import render

HOME_TASKS = 10
HOME_CALLS = 10


async def home_page(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    pool = request.app[POOL]
    now = datetime.now(UTC)
    zone = shop_zone(request.app)
    day_start = datetime.combine(now.astimezone(zone).date(), time(), zone)
    context: dict[str, Any] = {"now": now}
    if user.sees_everything:
        team, live, day, unreturned = await asyncio.gather(
            overview.team(pool), overview.live_calls(pool), overview.day_figures(pool, day_start),
            overview.unreturned_calls(pool, day_start))
        context.update({"team": team, "live_calls": live, "day": day, "unreturned": unreturned})
        return render("home_supervisor.html", request, context)
    page, mine, recent = await asyncio.gather(
        tasks.list_tasks(pool, user, TaskFilter(assignee_id=user.id, status="open"), limit=HOME_TASKS),
        overview.live_calls(pool, user.id),
        calls.list_calls(pool, user, CallFilter(manager_id=user.id), limit=HOME_CALLS,
                         default_region=request.app[SETTINGS].crm.default_region))
    context.update({"tasks": page.items, "has_more": page.has_more, "my_calls": mine, "recent_calls": recent.items})
    return render("home.html", request, context)


def setup(app: web.Application) -> None:
    app.router.add_get("/", home_page)

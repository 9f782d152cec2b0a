"""The alerts list: what must not wait (overdue callbacks, orders past their status's time limit).

Supervisors see every alert; an operator those about their own tasks and orders. Acknowledging one
says a person has seen it; it stays in the list of acknowledged alerts.
"""

from __future__ import annotations

from aiohttp import web

from crm import alerts
from web.keys import POOL, current_user
from web.live import announce
from web.pages.forms import path_int, redirect
from web.render import render


async def alerts_page(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    show_all = request.query.get("show") == "all"
    listed = await alerts.list_alerts(request.app[POOL], user, open_only=not show_all)
    return render("alerts/list.html", request, {"alerts": listed, "show_all": show_all})


async def acknowledge(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    alert = await alerts.acknowledge(request.app[POOL], path_int(request, "alert_id"), user)
    await announce.tasks_changed(request.app, alert.owner_id)
    raise redirect("/alerts")


def setup(app: web.Application) -> None:
    app.router.add_get("/alerts", alerts_page)
    app.router.add_post("/alerts/{alert_id:\\d+}/acknowledge", acknowledge)

"""Webhooks administration (admins): the endpoints the shop's systems listen on, and how deliveries went."""

from __future__ import annotations

from aiohttp import web

from crm import webhooks
from crm.errors import InvalidInput
from web.errors import error_message
from web.keys import POOL, require_role
from web.pages.forms import path_int, redirect, text
from web.render import render


async def _page(request: web.Request, *, error: str | None = None, secret: str | None = None,
                status: int = 200) -> web.Response:
    pool = request.app[POOL]
    return render("webhooks/list.html", request, {
        "endpoints": await webhooks.list_endpoints(pool), "deliveries": await webhooks.recent_deliveries(pool),
        "events": webhooks.EVENTS, "error": error, "secret": secret}, status=status)


async def list_page(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    return await _page(request)


async def create(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    form = await request.post()
    events = tuple(v for v in form.getall("events", []) if isinstance(v, str))
    try:
        _, secret = await webhooks.create_endpoint(request.app[POOL], text(form, "url"), events)
    except InvalidInput as exc:
        return await _page(request, error=error_message(request, exc), status=422)
    return await _page(request, secret=secret)


async def switch(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    form = await request.post()
    await webhooks.set_active(request.app[POOL], path_int(request, "endpoint_id"), text(form, "active") == "1")
    raise redirect("/settings/webhooks")


def setup(app: web.Application) -> None:
    app.router.add_get("/settings/webhooks", list_page)
    app.router.add_post("/settings/webhooks", create)
    app.router.add_post("/settings/webhooks/{endpoint_id:\\d+}/active", switch)

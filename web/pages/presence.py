"""The operator's own presence (online / away / offline): routing rings only managers who are online."""

from __future__ import annotations

from aiohttp import web

from crm import managers
from crm.models import PRESENCES
from web.keys import POOL, current_user
from web.live import announce
from web.pages.forms import redirect, safe_next, text


async def set_presence(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    form = await request.post()
    raw = text(form, "presence")
    presence = next((state for state in PRESENCES if state == raw), None)
    if presence is None:
        raise web.HTTPUnprocessableEntity(text="presence must be online, away or offline")
    await managers.set_presence(request.app[POOL], user.id, presence)
    await announce.presence_changed(request.app, user.id)
    raise redirect(safe_next(text(form, "next", "/")))


def setup(app: web.Application) -> None:
    app.router.add_post("/presence", set_presence)

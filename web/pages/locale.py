"""Switching the UI language: stored on the manager, so it follows them to every browser."""

from __future__ import annotations

from aiohttp import web

from crm import managers
from web.keys import POOL, current_user
from web.pages.forms import redirect, safe_next, text


async def switch_locale(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    form = await request.post()
    await managers.set_locale(request.app[POOL], user.id, text(form, "locale"))
    raise redirect(safe_next(text(form, "next", "/")))


def setup(app: web.Application) -> None:
    app.router.add_post("/locale", switch_locale)

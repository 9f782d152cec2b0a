"""Callback settings (supervisors and admins): the deadline a missed call is called back within, which
abandoned calls get no task, what closing one by hand needs, and auto-callback."""

from __future__ import annotations

from aiohttp import web

from crm import auto_callback, callbacks
from crm.auto_callback import AutoCallbackSettings
from crm.callbacks import CallbackSettings
from crm.errors import InvalidInput
from web.errors import error_message
from web.keys import POOL, require_role
from web.pages.forms import checkbox, int_field, redirect
from web.render import render

ROLES = ("supervisor", "admin")


async def _page(request: web.Request, *, error: str | None = None, status: int = 200,
                shown: tuple[CallbackSettings, AutoCallbackSettings] | None = None) -> web.Response:
    pool = request.app[POOL]
    current, auto = shown or (await callbacks.load_settings(pool), await auto_callback.load_settings(pool))
    return render("callbacks/settings.html", request, {"settings": current, "auto": auto, "error": error},
                  status=status)


async def page(request: web.Request) -> web.StreamResponse:
    require_role(request, *ROLES)
    return await _page(request)


async def save(request: web.Request) -> web.StreamResponse:
    require_role(request, *ROLES)
    form = await request.post()
    pool = request.app[POOL]
    try:
        settings = CallbackSettings(
            deadline_minutes=int_field(form, "deadline_minutes", "callback deadline", 5),
            short_ring_s=int_field(form, "short_ring_s", "short ring", 3),
            exclude_short=checkbox(form, "exclude_short"),
            require_next_contact=checkbox(form, "require_next_contact"))
        auto = AutoCallbackSettings(enabled=checkbox(form, "auto_callback"),
                                    max_attempts=int_field(form, "auto_max_attempts", "attempts", 3),
                                    spacing_minutes=int_field(form, "auto_spacing_minutes", "spacing", 10))
        auto.validated()
        await callbacks.save_settings(pool, settings)
        await auto_callback.save_settings(pool, auto)
    except InvalidInput as exc:
        return await _page(request, error=error_message(request, exc), status=422)
    raise redirect("/settings/callbacks")


def setup(app: web.Application) -> None:
    app.router.add_get("/settings/callbacks", page)
    app.router.add_post("/settings/callbacks", save)

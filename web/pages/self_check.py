"""Self-check calls on the audit side (supervisors and admins): the schedule, a test call now, the results.

The audit page shows the latest results; this page has them all (the last 30) with the settings.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time

from aiohttp import web

from crm.errors import InvalidInput
from crm.phones import normalize_phone
from crm.self_check import runs
from crm.self_check.schedule import SelfCheckSettings, next_slot
from web.errors import error_message
from web.keys import POOL, SETTINGS, require_role
from web.pages.forms import checkbox, int_field, redirect, shop_zone, text
from web.render import render
from web.self_check_caller import notify

ROLES = ("supervisor", "admin")
#: How many of the latest results the audit page shows.
ON_AUDIT_PAGE = 5


async def results(request: web.Request, limit: int) -> list[runs.RunView]:
    return await runs.recent_runs(request.app[POOL], datetime.now(UTC), limit)


async def _page(request: web.Request, *, error: str | None = None, status: int = 200,
                settings: SelfCheckSettings | None = None) -> web.Response:
    pool = request.app[POOL]
    current = settings or await runs.load_settings(pool)
    upcoming = next_slot(current, datetime.now(UTC), shop_zone(request.app))
    return render("audit/self_check.html", request, {
        "settings": current, "runs": await results(request, 30), "next_slot": upcoming, "error": error,
        "weekdays": (1, 2, 3, 4, 5, 6, 7)}, status=status)


async def page(request: web.Request) -> web.StreamResponse:
    require_role(request, *ROLES)
    return await _page(request)


def _parse_time(raw: str) -> time:
    try:
        return time.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput("the time of the test call: like 17:45") from None


async def save(request: web.Request) -> web.StreamResponse:
    require_role(request, *ROLES)
    form = await request.post()
    region = request.app[SETTINGS].crm.default_region
    caller = text(form, "caller")
    settings = SelfCheckSettings(
        enabled=checkbox(form, "enabled"),
        weekdays=tuple(int(v) for v in form.getall("weekdays", []) if isinstance(v, str) and v.isdigit()),
        did=text(form, "did"), caller=caller)
    try:
        settings = replace(settings, at_time=_parse_time(text(form, "at_time", "17:45")),
                           caller=normalize_phone(caller, region) if caller else "",
                           wait_s=int_field(form, "wait_s", "seconds on the line", 10))
        await runs.save_settings(request.app[POOL], settings, default_region=region)
    except InvalidInput as exc:
        return await _page(request, error=error_message(request, exc), status=422, settings=settings)
    raise redirect("/audit/self-check")


async def call_now(request: web.Request) -> web.StreamResponse:
    user = require_role(request, *ROLES)
    pool = request.app[POOL]
    try:
        await runs.request_run(pool, await runs.load_settings(pool), user.id)
    except InvalidInput as exc:
        return await _page(request, error=error_message(request, exc), status=422)
    await notify(pool)
    raise redirect("/audit/self-check")


def setup(app: web.Application) -> None:
    app.router.add_get("/audit/self-check", page)
    app.router.add_post("/audit/self-check/settings", save)
    app.router.add_post("/audit/self-check/call", call_now)

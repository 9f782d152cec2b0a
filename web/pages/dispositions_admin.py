"""Call results administration (admins): the disposition codes operators choose on the pop after a call.

One page: the codes in their order, each editable in place (titles, order, offered or not), and a
form to add one. A code is never deleted (calls keep it): it is switched off instead.
"""

from __future__ import annotations

from aiohttp import web

from crm import call_results
from crm.call_results import Disposition
from crm.errors import InvalidInput
from web.errors import error_message
from web.keys import POOL, require_role
from web.pages.forms import Form, checkbox, int_field, redirect, text
from web.render import render


def _disposition(form: Form, *, active_default: bool) -> Disposition:
    return Disposition(code=text(form, "code").lower(), title_ru=text(form, "title_ru"),
                       title_en=text(form, "title_en"), position=int_field(form, "position", "position", 0),
                       active=checkbox(form, "active") if "active_present" in form else active_default)


async def _page(request: web.Request, error: str | None = None, values: dict[str, str] | None = None,
                status: int = 200) -> web.Response:
    codes = await call_results.list_dispositions(request.app[POOL], active_only=False)
    return render("dispositions/list.html", request, {
        "codes": codes, "error": error, "values": values or {"code": "", "title_ru": "", "title_en": "",
                                                             "position": str((codes[-1].position + 1) if codes else 1)},
    }, status=status)


async def list_page(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    return await _page(request)


async def save(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    form = await request.post()
    try:
        await call_results.save_disposition(request.app[POOL], _disposition(form, active_default=True))
    except InvalidInput as exc:
        values = {k: text(form, k) for k in ("code", "title_ru", "title_en", "position")}
        return await _page(request, error_message(request, exc), values, status=422)
    raise redirect("/settings/call-results")


def setup(app: web.Application) -> None:
    app.router.add_get("/settings/call-results", list_page)
    app.router.add_post("/settings/call-results", save)

"""Managers administration (admins only): list, create, edit, deactivate, reset a password.

An admin cannot deactivate or demote their own account here, so the last admin
cannot lock everyone out of this page by accident.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from crm import managers
from crm.errors import Conflict, InvalidInput
from crm.managers import ManagerInput
from crm.models import ROLES, Manager, Role
from crm.passwords import check_password_policy
from web.errors import error_message
from web.keys import POOL, require_role
from web.pages.forms import Form, checkbox, int_field, path_int, redirect, split_list, text
from web.render import render


def _manager_id(request: web.Request) -> int:
    return path_int(request, "manager_id")


def _values(manager: Manager | None) -> dict[str, Any]:
    if manager is None:
        return {"login": "", "display_name": "", "role": "operator", "extensions": "", "softphone": False,
                "vip_capable": False, "seniority": "0", "max_concurrent_calls": "1", "active": True}
    return {"login": manager.login, "display_name": manager.display_name, "role": manager.role,
            "extensions": ", ".join(manager.extensions), "softphone": manager.softphone,
            "vip_capable": manager.vip_capable, "seniority": str(manager.seniority),
            "max_concurrent_calls": str(manager.max_concurrent_calls), "active": manager.active}


def _submitted(form: Form, *, creating: bool) -> dict[str, Any]:
    return {"login": text(form, "login"), "display_name": text(form, "display_name"), "role": text(form, "role"),
            "extensions": text(form, "extensions"), "softphone": checkbox(form, "softphone"),
            "vip_capable": checkbox(form, "vip_capable"), "seniority": text(form, "seniority"),
            "max_concurrent_calls": text(form, "max_concurrent_calls"),
            "active": True if creating else checkbox(form, "active")}


def _input(form: Form, *, creating: bool, locale: str = "ru") -> ManagerInput:
    role_raw = text(form, "role")
    role: Role | None = next((r for r in ROLES if r == role_raw), None)
    if role is None:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    return ManagerInput(
        login=text(form, "login"), display_name=text(form, "display_name"), role=role,
        extensions=split_list(text(form, "extensions")), softphone=checkbox(form, "softphone"),
        vip_capable=checkbox(form, "vip_capable"), seniority=int_field(form, "seniority", "seniority", 0),
        max_concurrent_calls=int_field(form, "max_concurrent_calls", "max concurrent calls", 1),
        active=True if creating else checkbox(form, "active"), locale=locale)


def _render_form(request: web.Request, manager: Manager | None, values: dict[str, Any], error: str | None = None,
                 status: int = 200) -> web.Response:
    return render("managers/form.html", request, {"manager": manager, "values": values, "error": error,
                                                  "roles": ROLES}, status=status)


async def manager_list(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    staff = await managers.list_managers(request.app[POOL])
    return render("managers/list.html", request, {"managers": staff})


async def new_form(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    return _render_form(request, None, _values(None))


async def create(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    form = await request.post()
    try:
        await managers.create_manager(request.app[POOL], _input(form, creating=True), text(form, "password"))
    except (InvalidInput, Conflict) as exc:
        return _render_form(request, None, _submitted(form, creating=True), error_message(request, exc),
                            exc.http_status)
    raise redirect("/managers")


async def edit_form(request: web.Request) -> web.StreamResponse:
    require_role(request, "admin")
    manager = await managers.get_manager(request.app[POOL], _manager_id(request))
    return _render_form(request, manager, _values(manager))


async def update(request: web.Request) -> web.StreamResponse:
    admin = require_role(request, "admin")
    pool = request.app[POOL]
    manager = await managers.get_manager(pool, _manager_id(request))
    form = await request.post()
    password = text(form, "password")
    try:
        data = _input(form, creating=False, locale=manager.locale)
        if manager.id == admin.id and (not data.active or data.role != "admin"):
            raise InvalidInput("you cannot deactivate or demote your own account")
        if password:
            check_password_policy(password)  # before any change, so a bad password changes nothing
        await managers.update_manager(pool, manager.id, data)
        if password:
            await managers.set_password(pool, manager.id, password)
    except (InvalidInput, Conflict) as exc:
        return _render_form(request, manager, _submitted(form, creating=False), error_message(request, exc),
                            exc.http_status)
    raise redirect("/managers")


def setup(app: web.Application) -> None:
    app.router.add_get("/managers", manager_list)
    app.router.add_get("/managers/new", new_form)
    app.router.add_post("/managers/new", create)
    app.router.add_get("/managers/{manager_id:\\d+}/edit", edit_form)
    app.router.add_post("/managers/{manager_id:\\d+}/edit", update)

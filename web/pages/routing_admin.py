"""Routing administration: manager groups, rules by dialled number / channel / customer kind / region,
working-hours schedules with holidays, the shop's numbers, global routing settings, the order statuses
that make a call urgent, and the managers' concurrency caps.

Admins edit; supervisors (heads of sales) may look at the overview, read-only, to understand where
calls go; operators get 403. Every change goes through one `crm.routing.data` (or `crm.managers`)
function that validates before it writes, so a refused form changes nothing and comes back with the
user's input and the reason.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from crm import distribution, managers, orders
from crm.errors import Conflict, InvalidInput
from crm.models import CUSTOMER_KINDS, SALES_CHANNELS, STICKY_SOURCES, Manager, RoutingGroup, RoutingRule
from crm.models import RoutingSchedule as Schedule
from crm.routing import config as routing_config
from crm.routing import data as routing_data
from web.errors import error_message
from web.keys import CATALOGUES, POOL, require_role
from web.pages import routing_forms as rf
from web.pages.forms import Form, checkbox, path_int, redirect, text
from web.render import locale_of, render

log = logging.getLogger(__name__)

EDITOR = "admin"
VIEWERS = ("admin", "supervisor")
Refusal = (InvalidInput, Conflict)


def _id(request: web.Request, name: str) -> int:
    return path_int(request, name)


def _translator(request: web.Request) -> rf.Translate:
    catalogues, locale = request.app[CATALOGUES], locale_of(request)
    return lambda key: catalogues.gettext(locale, key)


# ---- overview -------------------------------------------------------------------------------------------------

async def render_overview(request: web.Request, extra: dict[str, Any] | None = None, *,
                          status: int = 200) -> web.Response:
    """The overview page; `extra` carries a refused section's error and typed values."""
    user = require_role(request, *VIEWERS)
    pool = request.app[POOL]
    groups, rules, schedules, numbers = await asyncio.gather(
        routing_data.list_groups(pool), routing_data.list_rules(pool), routing_data.list_schedules(pool),
        routing_data.list_numbers(pool))
    settings, urgent, workflow, staff = await asyncio.gather(
        routing_data.get_routing_settings(pool), routing_data.get_urgent_statuses(pool), orders.load_workflow(pool),
        managers.list_managers(pool))
    context: dict[str, Any] = {
        "can_edit": user.role == EDITOR, "groups": groups, "rules": rules, "schedules": schedules,
        "numbers": numbers, "managers_by_id": {m.id: m for m in staff},
        "active_managers": [m for m in staff if m.active], "statuses": workflow.statuses,
        "channels": SALES_CHANNELS, "sticky_sources": STICKY_SOURCES,
        "settings_values": rf.settings_values(settings), "urgent_values": set(urgent),
        "distribute_orders": await distribution.is_enabled(pool),
        "new_contact_owner": await routing_config.new_contacts_go_to_operator(pool),
        "caps_values": {str(m.id): str(m.max_concurrent_calls) for m in staff},
        "number_values": {"did": "", "channel": "site", "label": ""},
        "holiday_values": {"schedule_id": None, "day": "", "note": ""}, "error": None, "error_section": None,
    }
    context.update(extra or {})
    return render("routing/overview.html", request, context, status=status)


async def overview(request: web.Request) -> web.StreamResponse:
    require_role(request, *VIEWERS)
    return await render_overview(request)


async def _refused(request: web.Request, section: str, exc: InvalidInput | Conflict,
                   values: dict[str, Any] | None = None) -> web.Response:
    """The overview again, with the refused section's reason beside it and the user's input kept."""
    log.info("routing admin: %s refused: %s", section, exc.message)
    error = error_message(request, exc)
    return await render_overview(request, {"error": error, "error_section": section, **(values or {})},
                           status=exc.http_status)


# ---- groups ---------------------------------------------------------------------------------------------------

async def _group_candidates(request: web.Request, group: RoutingGroup | None) -> list[Manager]:
    """Active managers, plus current members who were deactivated since (so a save does not drop them silently)."""
    members = set(group.member_ids) if group else set()
    return [m for m in await managers.list_managers(request.app[POOL]) if m.active or m.id in members]


async def _group_form(request: web.Request, group: RoutingGroup | None, values: dict[str, Any],
                      error: str | None = None, status: int = 200) -> web.Response:
    return render("routing/group_form.html", request, {
        "group": group, "values": values, "error": error, "managers": await _group_candidates(request, group)},
        status=status)


async def new_group(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    return await _group_form(request, None, rf.group_values(None))


async def create_group(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    form = await request.post()
    try:
        offered = [m.id for m in await _group_candidates(request, None)]
        await routing_data.create_group(request.app[POOL], rf.group_input(form, offered))
    except Refusal as exc:
        return await _group_form(request, None, rf.group_submitted(form), error_message(request, exc), exc.http_status)
    raise redirect("/routing#groups")


async def edit_group(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    group = await routing_data.get_group(request.app[POOL], _id(request, "group_id"))
    return await _group_form(request, group, rf.group_values(group))


async def update_group(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    pool = request.app[POOL]
    group = await routing_data.get_group(pool, _id(request, "group_id"))
    form = await request.post()
    try:
        offered = [m.id for m in await _group_candidates(request, group)]
        await routing_data.update_group(pool, group.id, rf.group_input(form, offered))
    except Refusal as exc:
        return await _group_form(request, group, rf.group_submitted(form), error_message(request, exc), exc.http_status)
    raise redirect("/routing#groups")


async def delete_group(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    try:
        await routing_data.delete_group(request.app[POOL], _id(request, "group_id"))
    except Refusal as exc:
        return await _refused(request, "groups", exc)
    raise redirect("/routing#groups")


# ---- rules ----------------------------------------------------------------------------------------------------

async def _rule_form(request: web.Request, rule: RoutingRule | None, values: dict[str, Any],
                     error: str | None = None, status: int = 200) -> web.Response:
    return render("routing/rule_form.html", request, {
        "rule": rule, "values": values, "error": error, "groups": await routing_data.list_groups(request.app[POOL]),
        "channels": SALES_CHANNELS, "kinds": CUSTOMER_KINDS}, status=status)


async def new_rule(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    rules = await routing_data.list_rules(request.app[POOL])
    return await _rule_form(request, None, rf.rule_values(None, max((r.position for r in rules), default=90) + 10))


async def create_rule(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    form = await request.post()
    try:
        await routing_data.create_rule(request.app[POOL], rf.rule_input(form))
    except Refusal as exc:
        return await _rule_form(request, None, rf.rule_submitted(form), error_message(request, exc), exc.http_status)
    raise redirect("/routing#rules")


async def edit_rule(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    rule = await routing_data.get_rule(request.app[POOL], _id(request, "rule_id"))
    return await _rule_form(request, rule, rf.rule_values(rule))


async def update_rule(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    pool = request.app[POOL]
    rule = await routing_data.get_rule(pool, _id(request, "rule_id"))
    form = await request.post()
    try:
        await routing_data.update_rule(pool, rule.id, rf.rule_input(form))
    except Refusal as exc:
        return await _rule_form(request, rule, rf.rule_submitted(form), error_message(request, exc), exc.http_status)
    raise redirect("/routing#rules")


async def delete_rule(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    await routing_data.delete_rule(request.app[POOL], _id(request, "rule_id"))
    raise redirect("/routing#rules")


async def move_rule(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    form = await request.post()
    step = {"up": -1, "down": 1}.get(text(form, "direction"))
    if step is None:
        return await _refused(request, "rules", InvalidInput("direction: up or down"))
    await routing_data.move_rule(request.app[POOL], _id(request, "rule_id"), step)
    raise redirect("/routing#rules")


# ---- schedules and holidays -----------------------------------------------------------------------------------

def _schedule_form(request: web.Request, schedule: Schedule | None, values: dict[str, Any],
                   error: str | None = None, status: int = 200) -> web.Response:
    return render("routing/schedule_form.html", request, {"schedule": schedule, "values": values, "error": error},
                  status=status)


async def new_schedule(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    return _schedule_form(request, None, rf.schedule_values(None))


async def create_schedule(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    form = await request.post()
    try:
        await routing_data.create_schedule(request.app[POOL], rf.schedule_input(form, _translator(request)))
    except Refusal as exc:
        return _schedule_form(request, None, rf.schedule_submitted(form), error_message(request, exc), exc.http_status)
    raise redirect("/routing#schedules")


async def edit_schedule(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    schedule = await routing_data.get_schedule(request.app[POOL], _id(request, "schedule_id"))
    return _schedule_form(request, schedule, rf.schedule_values(schedule))


async def update_schedule(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    pool = request.app[POOL]
    schedule = await routing_data.get_schedule(pool, _id(request, "schedule_id"))
    form = await request.post()
    try:
        data = rf.schedule_input(form, _translator(request), did="" if schedule.did == "" else None)
        await routing_data.update_schedule(pool, schedule.id, data)
    except Refusal as exc:
        return _schedule_form(request, schedule, rf.schedule_submitted(form), error_message(request, exc),
                              exc.http_status)
    raise redirect("/routing#schedules")


async def delete_schedule(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    try:
        await routing_data.delete_schedule(request.app[POOL], _id(request, "schedule_id"))
    except Refusal as exc:
        return await _refused(request, "schedules", exc)
    raise redirect("/routing#schedules")


async def add_holiday(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    pool = request.app[POOL]
    schedule_id = _id(request, "schedule_id")
    form = await request.post()
    try:
        day, note = rf.holiday_input(form)
        await routing_data.add_holiday(pool, schedule_id, day, note)
    except Refusal as exc:
        values = {"schedule_id": schedule_id, "day": text(form, "day"), "note": text(form, "note")}
        return await _refused(request, "schedules", exc, {"holiday_values": values})
    raise redirect("/routing#schedules")


async def remove_holiday(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    form = await request.post()
    try:
        day, _note = rf.holiday_input(form)
    except Refusal as exc:
        return await _refused(request, "schedules", exc)
    await routing_data.remove_holiday(request.app[POOL], _id(request, "schedule_id"), day)
    raise redirect("/routing#schedules")


# ---- numbers, settings, urgent statuses, caps -----------------------------------------------------------------

async def save_number(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    form = await request.post()
    try:
        await routing_data.save_number(request.app[POOL], rf.number_input(form))
    except Refusal as exc:
        values = {name: text(form, name) for name in ("did", "channel", "label")}
        return await _refused(request, "numbers", exc, {"number_values": values})
    raise redirect("/routing#numbers")


async def delete_number(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    form = await request.post()
    await routing_data.delete_number(request.app[POOL], text(form, "did"))
    raise redirect("/routing#numbers")


async def save_settings(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    form = await request.post()
    try:
        await routing_data.update_routing_settings(request.app[POOL], rf.settings_input(form))
        await distribution.set_enabled(request.app[POOL], checkbox(form, "distribute_orders"))
        await routing_config.set_new_contacts_go_to_operator(request.app[POOL], checkbox(form, "new_contact_owner"))
    except Refusal as exc:
        return await _refused(request, "settings", exc, {"settings_values": rf.settings_submitted(form)})
    raise redirect("/routing#settings")


async def save_urgent(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    form = await request.post()
    try:
        await routing_data.set_urgent_statuses(request.app[POOL], rf.urgent_input(form))
    except Refusal as exc:
        return await _refused(request, "urgent", exc, {"urgent_values": set(rf.urgent_input(form))})
    raise redirect("/routing#urgent")


async def save_caps(request: web.Request) -> web.StreamResponse:
    require_role(request, EDITOR)
    form: Form = await request.post()
    try:
        await managers.set_concurrency_caps(request.app[POOL], rf.caps_input(form))
    except Refusal as exc:
        values = {"caps_values": rf.caps_submitted(form)}
        return await _refused(request, "caps", exc, values)
    raise redirect("/routing#caps")


def setup(app: web.Application) -> None:
    add_get, add_post = app.router.add_get, app.router.add_post
    add_get("/routing", overview)
    add_get("/routing/groups/new", new_group)
    add_post("/routing/groups/new", create_group)
    add_get("/routing/groups/{group_id:\\d+}/edit", edit_group)
    add_post("/routing/groups/{group_id:\\d+}/edit", update_group)
    add_post("/routing/groups/{group_id:\\d+}/delete", delete_group)
    add_get("/routing/rules/new", new_rule)
    add_post("/routing/rules/new", create_rule)
    add_get("/routing/rules/{rule_id:\\d+}/edit", edit_rule)
    add_post("/routing/rules/{rule_id:\\d+}/edit", update_rule)
    add_post("/routing/rules/{rule_id:\\d+}/delete", delete_rule)
    add_post("/routing/rules/{rule_id:\\d+}/move", move_rule)
    add_get("/routing/schedules/new", new_schedule)
    add_post("/routing/schedules/new", create_schedule)
    add_get("/routing/schedules/{schedule_id:\\d+}/edit", edit_schedule)
    add_post("/routing/schedules/{schedule_id:\\d+}/edit", update_schedule)
    add_post("/routing/schedules/{schedule_id:\\d+}/delete", delete_schedule)
    add_post("/routing/schedules/{schedule_id:\\d+}/holidays", add_holiday)
    add_post("/routing/schedules/{schedule_id:\\d+}/holidays/remove", remove_holiday)
    add_post("/routing/numbers", save_number)
    add_post("/routing/numbers/remove", delete_number)
    add_post("/routing/settings", save_settings)
    add_post("/routing/urgent", save_urgent)
    add_post("/routing/caps", save_caps)

"""Customer pages: search, the customer card, create and edit forms, notes.

The card is the operator's main screen during a call, so it gathers everything about
the customer in one request: orders, tasks, notes, and (later) calls.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from crm import calls, customers, managers, orders, tasks
from crm.customers import CustomerInput
from crm.errors import Conflict, InvalidInput
from crm.models import CUSTOMER_KINDS, TASK_KINDS, Customer, CustomerKind, Manager
from crm.tasks import TaskFilter
from web.errors import error_message
from web.keys import POOL, SETTINGS, current_user
from web.pages.forms import Form, checkbox, optional_int, path_int, query_int, redirect, split_list, text
from web.render import render

PAGE_SIZE = 20
CARD_TASKS = 50


def _customer_id(request: web.Request) -> int:
    return path_int(request, "customer_id")


def _form_values(customer: Customer | None, viewer: Manager) -> dict[str, Any]:
    """What the form fields show: the stored customer, or defaults for a new one."""
    if customer is None:
        return {"name": "", "kind": "person", "vip": False, "region": "", "tags": "", "email": "", "phones": "",
                "responsible_manager_id": str(viewer.id)}
    return {"name": customer.name, "kind": customer.kind, "vip": customer.vip, "region": customer.region,
            "tags": ", ".join(customer.tags), "email": customer.email,
            "phones": "\n".join(p.e164 for p in customer.phones),
            "responsible_manager_id": "" if customer.responsible_manager_id is None
            else str(customer.responsible_manager_id)}


def _submitted_values(form: Form) -> dict[str, Any]:
    """The user's input exactly as typed, to refill the form after a refusal."""
    return {"name": text(form, "name"), "kind": text(form, "kind"), "vip": checkbox(form, "vip"),
            "region": text(form, "region"), "tags": text(form, "tags"), "email": text(form, "email"),
            "phones": text(form, "phones"), "responsible_manager_id": text(form, "responsible_manager_id")}


def _customer_input(form: Form) -> CustomerInput:
    kind = text(form, "kind", "person")
    if kind not in CUSTOMER_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(CUSTOMER_KINDS)}")
    checked_kind: CustomerKind = "company" if kind == "company" else "person"
    return CustomerInput(
        name=text(form, "name"), kind=checked_kind, vip=checkbox(form, "vip"), region=text(form, "region"),
        tags=split_list(text(form, "tags"), newlines=False),
        responsible_manager_id=optional_int(form, "responsible_manager_id", "responsible manager"),
        email=text(form, "email"), phones=split_list(text(form, "phones")))


async def _render_form(request: web.Request, customer: Customer | None, values: dict[str, Any],
                       error: str | None = None, status: int = 200) -> web.Response:
    staff = await managers.list_managers(request.app[POOL], active_only=True)
    return render("customers/form.html", request, {
        "customer": customer, "values": values, "error": error, "managers": staff, "kinds": CUSTOMER_KINDS,
    }, status=status)


async def search_page(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    query = request.query.get("q", "")[:200]
    offset = query_int(request, "offset")
    page = await customers.search_customers(request.app[POOL], query, user, limit=PAGE_SIZE, offset=offset,
                                            default_region=request.app[SETTINGS].crm.default_region)
    return render("customers/search.html", request, {
        "q": query, "results": page.items, "has_more": page.has_more, "offset": offset, "page_size": PAGE_SIZE,
    })


async def new_form(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    return await _render_form(request, None, _form_values(None, user))


async def create(request: web.Request) -> web.StreamResponse:
    current_user(request)
    form = await request.post()
    try:
        customer = await customers.create_customer(request.app[POOL], _customer_input(form),
                                                   default_region=request.app[SETTINGS].crm.default_region)
    except (InvalidInput, Conflict) as exc:
        return await _render_form(request, None, _submitted_values(form), error_message(request, exc), exc.http_status)
    raise redirect(f"/customers/{customer.id}")


async def edit_form(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    customer = await customers.get_customer(request.app[POOL], _customer_id(request), user)
    return await _render_form(request, customer, _form_values(customer, user))


async def update(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    pool = request.app[POOL]
    customer = await customers.get_customer(pool, _customer_id(request), user)
    form = await request.post()
    try:
        await customers.update_customer(pool, customer.id, _customer_input(form),
                                        default_region=request.app[SETTINGS].crm.default_region)
    except (InvalidInput, Conflict) as exc:
        return await _render_form(request, customer, _submitted_values(form), error_message(request, exc),
                                  exc.http_status)
    raise redirect(f"/customers/{customer.id}")


async def render_card(request: web.Request, customer_id: int, extra: dict[str, Any] | None = None, *,
                      status: int = 200) -> web.Response:
    """The customer card; form handlers on the card re-render it with their error and input."""
    user = current_user(request)
    pool = request.app[POOL]
    customer = await customers.get_customer(pool, customer_id, user)
    customer_orders, task_page, notes, workflow, staff, customer_calls = await asyncio.gather(
        orders.list_customer_orders(pool, customer.id),
        tasks.list_tasks(pool, user, TaskFilter(customer_id=customer.id), limit=CARD_TASKS),
        customers.list_notes(pool, customer.id),
        orders.load_workflow(pool),
        managers.list_managers(pool, active_only=True),
        calls.list_customer_calls(pool, customer.id))
    context: dict[str, Any] = {
        "calls": customer_calls, "customer": customer, "orders": customer_orders, "tasks": task_page.items,
        "notes": notes,
        "workflow": workflow, "managers": staff, "task_kinds": TASK_KINDS, "now": datetime.now(UTC),
        "note_error": None, "note_body": "", "task_error": None,
        "task_values": {"kind": "follow_up", "title": "", "due_at": "", "assignee_id": str(user.id)},
    }
    context.update(extra or {})
    return render("customers/card.html", request, context, status=status)


async def card(request: web.Request) -> web.StreamResponse:
    return await render_card(request, _customer_id(request))


async def add_note(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    pool = request.app[POOL]
    customer = await customers.get_customer(pool, _customer_id(request), user)
    form = await request.post()
    body = text(form, "body")
    try:
        await customers.add_note(pool, customer.id, user.id, body)
    except InvalidInput as exc:
        error = error_message(request, exc)
        return await render_card(request, customer.id, {"note_error": error, "note_body": body}, status=422)
    raise redirect(f"/customers/{customer.id}#notes")


def setup(app: web.Application) -> None:
    app.router.add_get("/customers", search_page)
    app.router.add_get("/customers/new", new_form)
    app.router.add_post("/customers/new", create)
    app.router.add_get("/customers/{customer_id:\\d+}", card)
    app.router.add_get("/customers/{customer_id:\\d+}/edit", edit_form)
    app.router.add_post("/customers/{customer_id:\\d+}/edit", update)
    app.router.add_post("/customers/{customer_id:\\d+}/notes", add_note)

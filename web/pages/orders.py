"""Order pages: the order with its items and status history, status buttons, and a new-order form.

Only the transitions the workflow allows get a button; a forged request for any other
is refused by `crm.orders.change_status`, and the page says so without changing anything.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from crm import customers, distribution, orders
from crm import recordings as order_recordings
from crm.errors import Conflict, ForbiddenTransition, InvalidInput
from crm.models import SALES_CHANNELS, Order, SalesChannel
from crm.orders import OrderInput
from web.errors import error_message
from web.jobs import notice_delivery
from web.jobs import webhooks as webhook_jobs
from web.keys import JOBS, POOL, SETTINGS, current_user
from web.pages.forms import Form, path_int, redirect, text
from web.render import render

ITEM_ROWS = 5


def _int_param(request: web.Request, name: str) -> int:
    return path_int(request, name)


async def render_order(request: web.Request, order: Order, extra: dict[str, Any] | None = None, *,
                       status: int = 200) -> web.Response:
    pool = request.app[POOL]
    history, changes, workflow, given, recorded = await asyncio.gather(
        orders.status_history(pool, order.id), orders.order_changes(pool, order.id), orders.load_workflow(pool),
        distribution.assignments(pool, order.id), order_recordings.for_order(pool, order.id, current_user(request)))
    context: dict[str, Any] = {"order": order, "history": history, "changes": changes, "workflow": workflow,
                               "recordings": recorded,
                               "assignments": given,
                               "next_statuses": workflow.next_statuses(order.status), "error": None}
    context.update(extra or {})
    return render("orders/view.html", request, context, status=status)


async def order_page(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    order = await orders.get_order(request.app[POOL], _int_param(request, "order_id"), user)
    return await render_order(request, order)


async def change_status(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    pool = request.app[POOL]
    order = await orders.get_order(pool, _int_param(request, "order_id"), user)
    form = await request.post()
    try:
        moved = await orders.change_status(pool, order.id, text(form, "status"), user.id, text(form, "comment"))
        await webhook_jobs.order_status_changed(request.app.get(JOBS), pool, moved.id, moved.number, order.status,
                                                moved.status, moved.status_changed_at)
        await notice_delivery.order_status_changed(request.app.get(JOBS), pool, request.app[SETTINGS].notices,
                                                   moved.id, moved.status_changed_at)
    except (ForbiddenTransition, InvalidInput) as exc:
        return await render_order(request, order, {"error": error_message(request, exc)}, status=exc.http_status)
    raise redirect(f"/orders/{order.id}")


def _item_rows(form: Form) -> list[tuple[str, str, str]]:
    """The item rows as typed: (name, qty, price) per row of the form."""
    columns = [[v if isinstance(v, str) else "" for v in form.getall(field, [])]
               for field in ("item_name", "item_qty", "item_price")]
    count = max(len(c) for c in columns)
    names, qtys, prices = (c + [""] * (count - len(c)) for c in columns)
    return list(zip(names, qtys, prices, strict=True))


def _items(form: Form) -> tuple[dict[str, Any], ...]:
    """Item rows from the form; a row with no name is an unused row."""
    return tuple({"name": name, "qty": qty.strip() or "1", "price": price.strip().replace(",", ".") or "0"}
                 for name, qty, price in _item_rows(form) if name.strip())


def _total(form: Form) -> str | None:
    """The typed total, or None (the CRM sums the items) when it is left empty."""
    raw = text(form, "total").strip().replace(",", ".")
    return raw or None


def _empty_values() -> dict[str, Any]:
    return {"number": "", "channel": "phone", "total": "", "currency": "RUB",
            "items": [{"name": "", "qty": "1", "price": ""} for _ in range(ITEM_ROWS)]}


def _submitted(form: Form) -> dict[str, Any]:
    rows = [{"name": name, "qty": qty, "price": price} for name, qty, price in _item_rows(form)]
    rows += [{"name": "", "qty": "1", "price": ""} for _ in range(ITEM_ROWS - len(rows))]
    return {"number": text(form, "number"), "channel": text(form, "channel"), "total": text(form, "total"),
            "currency": text(form, "currency", "RUB"), "items": rows}


async def _render_new(request: web.Request, customer_id: int, values: dict[str, Any], error: str | None = None,
                      status: int = 200) -> web.Response:
    customer = await customers.get_customer(request.app[POOL], customer_id, current_user(request))
    return render("orders/form.html", request, {"customer": customer, "values": values, "error": error,
                                                "channels": SALES_CHANNELS}, status=status)


async def new_order_form(request: web.Request) -> web.StreamResponse:
    return await _render_new(request, _int_param(request, "customer_id"), _empty_values())


async def create_order(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    pool = request.app[POOL]
    customer = await customers.get_customer(pool, _int_param(request, "customer_id"), user)
    form = await request.post()
    channel = text(form, "channel", "phone")
    try:
        if channel not in SALES_CHANNELS:
            raise InvalidInput(f"channel must be one of {', '.join(SALES_CHANNELS)}")
        checked_channel: SalesChannel = next(c for c in SALES_CHANNELS if c == channel)
        items = _items(form)
        order = await orders.create_order(pool, OrderInput(
            number=text(form, "number"), customer_id=customer.id, manager_id=user.id, channel=checked_channel,
            items=items, total=_total(form), currency=text(form, "currency", "RUB")), user.id,
            default_region=request.app[SETTINGS].crm.default_region)
    except (InvalidInput, Conflict) as exc:
        return await _render_new(request, customer.id, _submitted(form), error_message(request, exc), exc.http_status)
    raise redirect(f"/orders/{order.id}")


def setup(app: web.Application) -> None:
    app.router.add_get("/orders/{order_id:\\d+}", order_page)
    app.router.add_post("/orders/{order_id:\\d+}/status", change_status)
    app.router.add_get("/customers/{customer_id:\\d+}/orders/new", new_order_form)
    app.router.add_post("/customers/{customer_id:\\d+}/orders/new", create_order)

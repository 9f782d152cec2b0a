"""Orders over the API: the shop's integration path (create by customer phone), read, patch, move status."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from crm import customers, distribution, orders
from crm.database import Pool
from crm.errors import AccessDenied, NotFound
from crm.models import SALES_CHANNELS, Manager, Order
from crm.orders import OrderInput
from web.api.customers import check_customer_ref, default_region
from web.api.json_io import Body, invalid, json_response, path_id, to_json
from web.jobs import notice_delivery
from web.jobs import webhooks as webhook_jobs
from web.keys import JOBS, POOL, SETTINGS, current_user

CREATE_FIELDS = ("number", "customer_id", "customer_phone", "customer_name", "manager_id", "channel", "items",
                 "total", "currency")
PATCH_FIELDS = ("manager_id", "channel", "items", "total", "currency")
STATUS_FIELDS = ("status", "comment")


async def order_view(pool: Pool, order: Order) -> dict[str, Any]:
    """The order with its status history and the statuses it may move to next (for status buttons)."""
    history = await orders.status_history(pool, order.id)
    workflow = await orders.load_workflow(pool)
    allowed = [{"code": s.code, "title_ru": s.title_ru, "title_en": s.title_en, "is_final": s.is_final}
               for s in workflow.next_statuses(order.status)]
    view: dict[str, Any] = to_json(order)
    return {**view, "history": to_json(history), "next_statuses": allowed}


async def check_order_ref(pool: Pool, order_id: int, viewer: Manager, field: str = "order_id") -> None:
    """An order named in a request body must exist (else 422) and be visible to the caller (else 403)."""
    try:
        await orders.get_order(pool, order_id, viewer)
    except NotFound:
        raise invalid(f"{field}: no order {order_id}") from None


async def _respond(request: web.Request, order: Order, status: int = 200,
                   headers: dict[str, str] | None = None) -> web.Response:
    return json_response(await order_view(request.app[POOL], order), status=status, headers=headers)


async def create_order(request: web.Request) -> web.Response:
    viewer = current_user(request)
    pool = request.app[POOL]
    body = await Body.read(request, CREATE_FIELDS)
    data = OrderInput(
        number=body.text("number"),
        customer_id=body.opt_id("customer_id"),
        customer_phone=body.opt_text("customer_phone"),
        customer_name=body.opt_text("customer_name"),
        manager_id=body.opt_id("manager_id"),
        channel=body.choice("channel", SALES_CHANNELS, "site"),
        items=body.items("items", ()),
        total=body.opt_money("total"),
        currency=body.text("currency", "RUB"),
    )
    if data.customer_id is not None and data.customer_phone is not None:
        raise invalid("give customer_id or customer_phone, not both")
    # Operators place orders only for customers they can see.
    if data.customer_id is not None:
        await check_customer_ref(pool, data.customer_id, viewer)
    elif data.customer_phone is not None and not viewer.sees_everything:
        existing = await customers.find_by_phone(pool, data.customer_phone, default_region=default_region(request))
        if existing is not None and not customers.can_see(viewer, existing):
            raise AccessDenied("this phone belongs to another manager's customer")
    order = await orders.create_order(pool, data, viewer.id, default_region=default_region(request))
    if order.manager_id is None and await distribution.distribute(pool, order.id) is not None:
        order = await orders.get_order(pool, order.id)  # given to a manager by the distribution rules
    return await _respond(request, order, 201, {"Location": f"/api/v1/orders/{order.id}"})


async def get_order(request: web.Request) -> web.Response:
    order = await orders.get_order(request.app[POOL], path_id(request), current_user(request))
    return await _respond(request, order)


async def patch_order(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    current = await orders.get_order(pool, path_id(request), current_user(request))
    body = await Body.read(request, PATCH_FIELDS)
    order = await orders.update_order(
        pool, current.id,
        manager_id=body.opt_id("manager_id", current.manager_id),
        channel=body.choice("channel", SALES_CHANNELS, current.channel),
        items=body.items("items", current.items),
        # New items without a total: the total becomes their sum; otherwise it is checked against them.
        total=body.opt_money("total") if body.has("items") else body.money("total", current.total),
        currency=body.text("currency", current.currency),
        changed_by=current_user(request).id,
    )
    return await _respond(request, order)


async def change_status(request: web.Request) -> web.Response:
    viewer = current_user(request)
    pool = request.app[POOL]
    current = await orders.get_order(pool, path_id(request), viewer)
    body = await Body.read(request, STATUS_FIELDS)
    order = await orders.change_status(pool, current.id, body.text("status"), viewer.id, body.text("comment", ""))
    await webhook_jobs.order_status_changed(request.app.get(JOBS), pool, order.id, order.number, current.status,
                                            order.status, order.status_changed_at)
    await notice_delivery.order_status_changed(request.app.get(JOBS), pool, request.app[SETTINGS].notices, order.id,
                                               order.status_changed_at)
    return await _respond(request, order)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/api/v1/orders", create_order)
    router.add_get(r"/api/v1/orders/{id:[0-9]+}", get_order, allow_head=False)
    router.add_patch(r"/api/v1/orders/{id:[0-9]+}", patch_order)
    router.add_post(r"/api/v1/orders/{id:[0-9]+}/status", change_status)

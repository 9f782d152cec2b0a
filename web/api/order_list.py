"""`GET /api/v1/orders`: find orders and sync them (`updated_since` + paging), role-scoped like the page.

Filters: `number`, `status`, `manager` (an id, `me` or `none`), `customer`, `channel`, `from` / `to`
(creation days, shop's time zone), `updated_since` (an ISO 8601 moment: oldest change first, so a
shop can page through everything changed since its last sync), `overdue=true` (past the status's
time limit).
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from crm import order_list
from crm.models import SALES_CHANNELS
from crm.order_list import OrderFilter
from web.api.calls import day_param, manager_param, moment_param
from web.api.json_io import MAX_ID, invalid, page_response, paging, query_choice
from web.keys import POOL, current_user
from web.pages.forms import shop_zone

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
PARAMETERS = ("number", "status", "manager", "customer", "channel", "from", "to", "updated_since", "overdue", "limit",
              "offset")


def _customer(request: web.Request) -> int | None:
    raw = request.query.get("customer", "")
    if not raw:
        return None
    if raw.isascii() and raw.isdigit() and len(raw) <= 19 and 1 <= int(raw) <= MAX_ID:
        return int(raw)
    raise invalid("customer: a customer id")


def _status(request: web.Request) -> str | None:
    raw = request.query.get("status", "")
    if not raw:
        return None
    if len(raw) > 32 or not raw.replace("_", "").isalnum() or not raw.isascii():
        raise invalid("status: a status code")
    return raw


def order_filter(request: web.Request) -> OrderFilter:
    zone = shop_zone(request.app)
    unassigned = request.query.get("manager", "") == "none"
    to_day = day_param(request, "to", zone)
    overdue = request.query.get("overdue", "")
    if overdue not in ("", "true", "false", "1", "0"):
        raise invalid("overdue: true or false")
    return OrderFilter(
        number=request.query.get("number") or None, status=_status(request),
        manager_id=None if unassigned else manager_param(request), unassigned=unassigned,
        customer_id=_customer(request), channel=query_choice(request, "channel", SALES_CHANNELS),
        created_from=day_param(request, "from", zone),
        created_before=None if to_day is None else to_day + timedelta(days=1),
        updated_since=moment_param(request, zone, "updated_since"), overdue=overdue in ("true", "1"))


async def list_orders(request: web.Request) -> web.Response:
    viewer = current_user(request)
    limit, offset = paging(request, default_limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT)
    page = await order_list.list_orders(request.app[POOL], viewer, order_filter(request), limit=limit, offset=offset)
    return page_response(page, limit, offset)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/orders", list_orders, allow_head=False)

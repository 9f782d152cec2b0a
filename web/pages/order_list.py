"""The orders page: status tabs with counts, filters (manager, channel, dates, over the time limit), paging.

Operators see the orders they manage and those of their own and unassigned customers; supervisors
and admins see all and may pick a manager (or "nobody": orders waiting for distribution).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from crm import managers, order_list, orders
from crm.models import SALES_CHANNELS, SalesChannel
from crm.order_list import OrderFilter
from web.keys import POOL, current_user
from web.pages.calls import form_day
from web.pages.forms import query_int, shop_zone
from web.render import render

PAGE_SIZE = 50


def _filter(request: web.Request, errors: list[str]) -> tuple[OrderFilter, dict[str, str]]:
    """The page's filters from the query; the raw values to refill the form."""
    query = request.query
    raw = {k: query.get(k, "")[:40] for k in ("status", "manager", "channel", "from", "to", "overdue", "number")}
    zone = shop_zone(request.app)
    user = current_user(request)
    manager_id: int | None = None
    if user.sees_everything and raw["manager"].isdigit():
        manager_id = int(raw["manager"])
    elif raw["manager"] == "me":
        manager_id = user.id
    channel: SalesChannel | None = next((c for c in SALES_CHANNELS if c == raw["channel"]), None)
    to_day = form_day(raw["to"], zone, "to", errors)
    return OrderFilter(
        number=raw["number"] or None, status=raw["status"] or None, manager_id=manager_id,
        unassigned=user.sees_everything and raw["manager"] == "none", channel=channel,
        created_from=form_day(raw["from"], zone, "from", errors),
        created_before=None if to_day is None else to_day + timedelta(days=1),
        overdue=raw["overdue"] == "1"), raw


async def list_page(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    pool = request.app[POOL]
    errors: list[str] = []
    flt, raw = _filter(request, errors)
    offset = query_int(request, "offset")
    page = await order_list.list_orders(pool, user, flt, limit=PAGE_SIZE, offset=offset)
    counts = await order_list.status_counts(pool, user, flt)
    workflow = await orders.load_workflow(pool)
    staff = await managers.list_managers(pool, active_only=True) if user.sees_everything else []
    without_status = {k: v for k, v in raw.items() if v and k != "status"}
    context: dict[str, Any] = {
        "orders": page.items, "has_more": page.has_more, "offset": offset, "page_size": PAGE_SIZE,
        "counts": counts, "total": sum(counts.values()), "workflow": workflow, "managers": staff,
        "channels": SALES_CHANNELS, "filter": raw, "errors": errors,
        "query": urlencode({k: v for k, v in raw.items() if v}), "tab_query": urlencode(without_status),
        "now": datetime.now(UTC),
    }
    return render("orders/list.html", request, context)


def setup(app: web.Application) -> None:
    app.router.add_get("/orders", list_page)

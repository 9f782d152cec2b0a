"""Finding orders: the orders page (status tabs with counts, filters) and `GET /api/v1/orders`.

Role-scoped like a single order: an operator sees the orders they manage and the orders of their
own and of unassigned customers; supervisors and admins see all. "Over the time limit" is an open
order that has sat in its status longer than the limit the workflow gives that status.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from crm.database import Pool
from crm.models import Manager, Page, SalesChannel
from crm.orders import SELECT_ORDER, order_from_row
from crm.sql import SqlParams

LIST_LIMIT_MAX = 200


@dataclass(frozen=True)
class OrderFilter:
    number: str | None = None
    status: str | None = None
    manager_id: int | None = None
    #: Orders nobody manages yet.
    unassigned: bool = False
    customer_id: int | None = None
    channel: SalesChannel | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None
    #: Changed at or after this moment; the list is then oldest change first (a sync cursor).
    updated_since: datetime | None = None
    #: Only open orders past their status's time limit.
    overdue: bool = False


SCOPE = ("(o.manager_id = {p} OR EXISTS (SELECT 1 FROM customers sc WHERE sc.id = o.customer_id "
         "AND (sc.responsible_manager_id = {p} OR sc.responsible_manager_id IS NULL)))")
OVERDUE = ("EXISTS (SELECT 1 FROM order_statuses st WHERE st.code = o.status AND NOT st.is_final "
           "AND st.time_limit IS NOT NULL AND now() - o.status_changed_at > st.time_limit)")


def _where(viewer: Manager, flt: OrderFilter, arg: SqlParams) -> str:
    conditions: list[str] = []
    if not viewer.sees_everything:
        conditions.append(SCOPE.format(p=arg(viewer.id)))
    if flt.number:
        conditions.append(f"o.number = {arg(flt.number.strip()[:64])}")
    if flt.status is not None:
        conditions.append(f"o.status = {arg(flt.status)}")
    if flt.manager_id is not None:
        conditions.append(f"o.manager_id = {arg(flt.manager_id)}")
    if flt.unassigned:
        conditions.append("o.manager_id IS NULL")
    if flt.customer_id is not None:
        conditions.append(f"o.customer_id = {arg(flt.customer_id)}")
    if flt.channel is not None:
        conditions.append(f"o.channel = {arg(flt.channel)}")
    if flt.created_from is not None:
        conditions.append(f"o.created_at >= {arg(flt.created_from)}")
    if flt.created_before is not None:
        conditions.append(f"o.created_at < {arg(flt.created_before)}")
    if flt.updated_since is not None:
        conditions.append(f"o.updated_at >= {arg(flt.updated_since)}")
    if flt.overdue:
        conditions.append(OVERDUE)
    return (" WHERE " + " AND ".join(conditions)) if conditions else ""


async def list_orders(pool: Pool, viewer: Manager, flt: OrderFilter, *, limit: int = 50, offset: int = 0) -> Page:
    """Orders newest first (oldest change first with `updated_since`), filtered and role-scoped."""
    limit = max(1, min(limit, LIST_LIMIT_MAX))
    offset = max(0, offset)
    arg = SqlParams()
    where = _where(viewer, flt, arg)
    order = "o.updated_at, o.id" if flt.updated_since is not None else "o.created_at DESC, o.id DESC"
    rows = await pool.fetch(SELECT_ORDER + where + f" ORDER BY {order} LIMIT {arg(limit + 1)} OFFSET {arg(offset)}",
                            *arg.values)
    return Page(items=tuple(order_from_row(r) for r in rows[:limit]), has_more=len(rows) > limit)


async def status_counts(pool: Pool, viewer: Manager, flt: OrderFilter) -> dict[str, int]:
    """How many orders each status tab holds under the other filters (the tab's own status aside)."""
    arg = SqlParams()
    where = _where(viewer, replace(flt, status=None), arg)
    rows = await pool.fetch(f"SELECT o.status, count(*) AS n FROM orders o{where} GROUP BY o.status", *arg.values)
    return {r["status"]: int(r["n"]) for r in rows}

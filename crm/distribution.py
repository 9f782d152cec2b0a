"""Order distribution: who takes a new order that arrives without a manager (the shop's site, the API).

The first of the steps shops are told to take: no order waits for someone to notice it. The rules
are the routing rules an admin already edits for calls (crm/routing/config.py), read for orders:

1. the customer's responsible manager, if active;
2. a VIP customer: the VIP-capable online manager with the fewest open orders;
3. the first routing rule that matches the order's sales channel, the customer's type and region
   (rules about a dialled number are for calls and are skipped): the online member of its group
   with the fewest open orders;
4. else any online operator with the fewest open orders;
5. nobody online: the order stays unassigned (the orders page lists them: "not distributed").

Ties go to whoever was given an order longest ago, so a quiet afternoon still spreads evenly.
Every assignment is kept in `order_assignments` with its reason, shown in the order's history.
`choose` is pure; `distribute` reads what it needs and writes the assignment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from crm.database import Pool
from crm.models import RoutingGroup, RoutingRule
from crm.routing.config import list_groups, list_rules

RESPONSIBLE = "responsible_manager"
VIP = "vip"
RULE = "rule"
LEAST_LOADED = "least_loaded"


@dataclass(frozen=True)
class Candidate:
    manager_id: int
    online: bool
    vip_capable: bool
    operator: bool
    open_orders: int
    #: When they were last given an order (None: never).
    last_assigned_at: datetime | None


@dataclass(frozen=True)
class OrderFacts:
    channel: str
    customer_kind: str
    region: str
    vip: bool
    responsible_id: int | None


@dataclass(frozen=True)
class Choice:
    manager_id: int
    reason: str
    #: One line for the order's history ("rule #3: channel landing -> group Landing").
    explanation: str


def _least_loaded(candidates: Sequence[Candidate]) -> Candidate | None:
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c.open_orders,
                                          c.last_assigned_at.timestamp() if c.last_assigned_at else float("-inf"),
                                          c.manager_id))


def _matches(rule: RoutingRule, order: OrderFacts) -> bool:
    return (not rule.did and rule.channel in ("", order.channel) and rule.customer_kind in ("", order.customer_kind)
            and (not rule.region or rule.region.casefold() == order.region.casefold()))


def choose(order: OrderFacts, candidates: Sequence[Candidate], rules: Sequence[RoutingRule],
           groups: Sequence[RoutingGroup]) -> Choice | None:
    """The manager for a new order, and why; None when nobody suitable is online."""
    by_id = {c.manager_id: c for c in candidates}
    if order.responsible_id is not None and order.responsible_id in by_id:
        return Choice(order.responsible_id, RESPONSIBLE, "the customer's responsible manager")
    online = [c for c in candidates if c.online]
    if order.vip:
        chosen = _least_loaded([c for c in online if c.vip_capable])
        if chosen is not None:
            return Choice(chosen.manager_id, VIP, f"VIP customer: a VIP manager with {chosen.open_orders} open orders")
    group_of = {g.id: g for g in groups}
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        if not _matches(rule, order):
            continue
        group = group_of.get(rule.group_id)
        members = [by_id[m] for m in (group.member_ids if group else ()) if m in by_id and by_id[m].online]
        chosen = _least_loaded(members)
        if chosen is not None:
            return Choice(chosen.manager_id, RULE, f"rule #{rule.id} -> group {rule.group_name}: "
                                                   f"{chosen.open_orders} open orders")
    chosen = _least_loaded([c for c in online if c.operator])
    if chosen is not None:
        return Choice(chosen.manager_id, LEAST_LOADED, f"the online operator with the fewest open orders "
                                                       f"({chosen.open_orders})")
    return None


CANDIDATES = """
SELECT m.id, m.presence = 'online' AS online, m.vip_capable, m.role = 'operator' AS operator,
       (SELECT count(*) FROM orders o JOIN order_statuses s ON s.code = o.status
        WHERE o.manager_id = m.id AND NOT s.is_final) AS open_orders,
       (SELECT max(a.assigned_at) FROM order_assignments a WHERE a.manager_id = m.id) AS last_assigned_at
FROM managers m WHERE m.active AND m.role IN ('operator', 'supervisor')
"""

ORDER_FACTS = """
SELECT o.channel, o.manager_id, c.kind, c.region, c.vip, c.responsible_manager_id
FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = $1
"""


async def distribute(pool: Pool, order_id: int) -> Choice | None:
    """Give an unassigned order its manager (and record why); None when it has one or nobody is online."""
    if not await pool.fetchval("SELECT enabled FROM distribution_settings"):
        return None
    row = await pool.fetchrow(ORDER_FACTS, order_id)
    if row is None or row["manager_id"] is not None:
        return None
    order = OrderFacts(channel=row["channel"], customer_kind=row["kind"], region=row["region"], vip=row["vip"],
                       responsible_id=row["responsible_manager_id"])
    candidates = [Candidate(r["id"], r["online"], r["vip_capable"], r["operator"], int(r["open_orders"]),
                            r["last_assigned_at"]) for r in await pool.fetch(CANDIDATES)]
    choice = choose(order, candidates, await list_rules(pool), await list_groups(pool))
    if choice is None:
        return None
    async with pool.acquire() as conn, conn.transaction():
        taken = await conn.fetchval("UPDATE orders SET manager_id = $2, updated_at = now() "
                                    "WHERE id = $1 AND manager_id IS NULL RETURNING id", order_id, choice.manager_id)
        if taken is None:  # someone assigned it meanwhile: theirs stands
            return None
        await conn.execute("INSERT INTO order_assignments (order_id, manager_id, reason, explanation) "
                           "VALUES ($1, $2, $3, $4)", order_id, choice.manager_id, choice.reason, choice.explanation)
    return choice


@dataclass(frozen=True)
class Assignment:
    manager_name: str
    assigned_at: datetime
    by_name: str | None
    reason: str
    explanation: str


async def assignments(pool: Pool, order_id: int) -> list[Assignment]:
    """The order's assignments, oldest first (the order page's history)."""
    rows = await pool.fetch(
        """SELECT a.*, m.display_name AS manager_name, b.display_name AS by_name FROM order_assignments a
           JOIN managers m ON m.id = a.manager_id LEFT JOIN managers b ON b.id = a.assigned_by
           WHERE a.order_id = $1 ORDER BY a.assigned_at, a.id""", order_id)
    return [Assignment(r["manager_name"], r["assigned_at"], r["by_name"], r["reason"], r["explanation"])
            for r in rows]


async def set_enabled(pool: Pool, enabled: bool) -> None:
    await pool.execute("UPDATE distribution_settings SET enabled = $1", enabled)


async def is_enabled(pool: Pool) -> bool:
    return bool(await pool.fetchval("SELECT enabled FROM distribution_settings"))

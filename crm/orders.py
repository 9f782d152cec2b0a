"""Orders: create (creating the customer for an unknown phone), update, status changes with history."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg

from crm.customers import CustomerInput, insert_customer
from crm.database import Connection, Pool
from crm.errors import AccessDenied, DuplicateOrderNumber, InvalidInput, NotFound, PhoneTaken
from crm.models import SALES_CHANNELS, Manager, Order, OrderStatus, SalesChannel, StatusChange
from crm.phones import format_phone, normalize_phone
from crm.validation import clean_text
from crm.workflow import StatusWorkflow

SELECT_ORDER = """
SELECT o.*, c.name AS customer_name, m.display_name AS manager_name
FROM orders o JOIN customers c ON c.id = o.customer_id LEFT JOIN managers m ON m.id = o.manager_id
"""
MAX_ITEMS = 200


@dataclass(frozen=True)
class OrderInput:
    """An order as a shop sends it. Give `customer_id`, or a `customer_phone` (and name)."""

    number: str
    customer_id: int | None = None
    customer_phone: str | None = None
    customer_name: str | None = None
    manager_id: int | None = None
    channel: SalesChannel = "site"
    items: tuple[dict[str, Any], ...] = ()
    total: Decimal | str | int | float = Decimal(0)
    currency: str = "RUB"


def _clean_items(items: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"items: at most {MAX_ITEMS}")
    cleaned = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidInput("items: each item must be an object")
        name = clean_text(str(item.get("name", "")), "item name", max_len=300, min_len=1)
        try:
            qty = int(item.get("qty", 1))
            price = Decimal(str(item.get("price", 0)))
        except (ValueError, TypeError, InvalidOperation) as exc:
            raise InvalidInput("items: qty must be an integer and price a number") from exc
        if not 1 <= qty <= 100000 or not price.is_finite() or price < 0:
            raise InvalidInput("items: qty 1-100000, price >= 0")
        sku = clean_text(str(item.get("sku", "")), "item sku", max_len=64)
        cleaned.append({"sku": sku, "name": name, "qty": qty, "price": str(price)})
    return cleaned


def _clean_money(total: Decimal | str | int | float, currency: str) -> tuple[Decimal, str]:
    try:
        amount = Decimal(str(total))
    except InvalidOperation as exc:
        raise InvalidInput("total must be a number") from exc
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise InvalidInput("total must be between 0 and 10^12")
    # Round first, then check again: 999999999999.999 rounds up to 10^12, past numeric(14, 2).
    amount = amount.quantize(Decimal("0.01"))
    if amount >= Decimal("1e12"):
        raise InvalidInput("total must be between 0 and 10^12")
    currency = currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        raise InvalidInput("currency: a three-letter ISO 4217 code")
    return amount, currency


def _order(row: asyncpg.Record) -> Order:
    return Order(
        id=row["id"], number=row["number"], customer_id=row["customer_id"], customer_name=row["customer_name"],
        manager_id=row["manager_id"], manager_name=row["manager_name"], channel=row["channel"],
        items=tuple(row["items"]), total=row["total"], currency=row["currency"], status=row["status"],
        status_changed_at=row["status_changed_at"], created_at=row["created_at"], updated_at=row["updated_at"],
    )


async def load_workflow(pool: Pool | Connection) -> StatusWorkflow:
    statuses = [OrderStatus(code=r["code"], position=r["position"], title_ru=r["title_ru"],
                            title_en=r["title_en"], time_limit=r["time_limit"], is_final=r["is_final"],
                            is_initial=r["is_initial"])
                for r in await pool.fetch("SELECT * FROM order_statuses")]
    edges = [(r["from_status"], r["to_status"])
             for r in await pool.fetch("SELECT from_status, to_status FROM order_transitions")]
    return StatusWorkflow.build(statuses, edges)


async def _resolve_customer(conn: Connection, data: OrderInput, default_region: str) -> int:
    if data.customer_id is not None:
        if not await conn.fetchval("SELECT 1 FROM customers WHERE id = $1", data.customer_id):
            raise InvalidInput(f"no customer {data.customer_id}")
        return data.customer_id
    if not data.customer_phone:
        raise InvalidInput("give customer_id or customer_phone")
    e164 = normalize_phone(data.customer_phone, default_region)
    existing: int | None = await conn.fetchval("SELECT customer_id FROM customer_phones WHERE e164 = $1", e164)
    if existing is not None:
        return existing
    name = data.customer_name or f"Новый клиент {format_phone(e164)}"
    customer = CustomerInput(name=name, phones=(e164,), responsible_manager_id=data.manager_id).validated(
        default_region)
    try:
        async with conn.transaction():  # a savepoint: losing the race below undoes only this customer
            return await insert_customer(conn, customer)
    except PhoneTaken:
        # Another order for the same new number created its customer a moment ago: use that one.
        winner: int | None = await conn.fetchval("SELECT customer_id FROM customer_phones WHERE e164 = $1", e164)
        if winner is None:
            raise
        return winner


async def create_order(pool: Pool, data: OrderInput, created_by: int | None, *,
                       default_region: str = "RU") -> Order:
    number = clean_text(data.number, "order number", max_len=64, min_len=1)
    if data.channel not in SALES_CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(SALES_CHANNELS)}")
    items = _clean_items(data.items)
    total, currency = _clean_money(data.total, data.currency)
    async with pool.acquire() as conn, conn.transaction():
        if data.manager_id is not None and not await conn.fetchval(
                "SELECT 1 FROM managers WHERE id = $1", data.manager_id):
            raise InvalidInput(f"no manager {data.manager_id}")
        customer_id = await _resolve_customer(conn, data, default_region)
        initial = (await load_workflow(conn)).initial.code
        try:
            order_id = await conn.fetchval(
                """INSERT INTO orders (number, customer_id, manager_id, channel, items, total, currency, status)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
                number, customer_id, data.manager_id, data.channel, items, total, currency, initial)
        except asyncpg.UniqueViolationError as exc:
            raise DuplicateOrderNumber(f"order number {number!r} already exists") from exc
        await conn.execute(
            "INSERT INTO order_status_history (order_id, from_status, to_status, changed_by) VALUES ($1, NULL, $2, $3)",
            order_id, initial, created_by)
    return await get_order(pool, order_id)


async def update_order(pool: Pool, order_id: int, *, manager_id: int | None, channel: SalesChannel,
                       items: tuple[dict[str, Any], ...], total: Decimal | str | int | float,
                       currency: str) -> Order:
    """Change what an order holds; the status changes only through `change_status`."""
    if channel not in SALES_CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(SALES_CHANNELS)}")
    clean_items = _clean_items(items)
    amount, currency = _clean_money(total, currency)
    async with pool.acquire() as conn, conn.transaction():
        if manager_id is not None and not await conn.fetchval("SELECT 1 FROM managers WHERE id = $1", manager_id):
            raise InvalidInput(f"no manager {manager_id}")
        updated = await conn.fetchval(
            """UPDATE orders SET manager_id = $2, channel = $3, items = $4, total = $5, currency = $6,
                   updated_at = now() WHERE id = $1 RETURNING id""",
            order_id, manager_id, channel, clean_items, amount, currency)
        if updated is None:
            raise NotFound(f"no order {order_id}")
    return await get_order(pool, order_id)


async def change_status(pool: Pool, order_id: int, to_status: str, changed_by: int | None,
                        comment: str = "") -> Order:
    """Move an order through the workflow; a forbidden move raises and changes nothing."""
    comment = clean_text(comment, "comment", max_len=1000, multiline=True)
    async with pool.acquire() as conn, conn.transaction():
        current = await conn.fetchval("SELECT status FROM orders WHERE id = $1 FOR UPDATE", order_id)
        if current is None:
            raise NotFound(f"no order {order_id}")
        (await load_workflow(conn)).check_transition(current, to_status)
        await conn.execute(
            "UPDATE orders SET status = $2, status_changed_at = now(), updated_at = now() WHERE id = $1",
            order_id, to_status)
        await conn.execute(
            """INSERT INTO order_status_history (order_id, from_status, to_status, changed_by, comment)
               VALUES ($1, $2, $3, $4, $5)""", order_id, current, to_status, changed_by, comment)
    return await get_order(pool, order_id)


async def get_order(pool: Pool, order_id: int, viewer: Manager | None = None) -> Order:
    row = await pool.fetchrow(SELECT_ORDER + " WHERE o.id = $1", order_id)
    if row is None:
        raise NotFound(f"no order {order_id}")
    if viewer is not None and not viewer.sees_everything:
        responsible = await pool.fetchval("SELECT responsible_manager_id FROM customers WHERE id = $1",
                                          row["customer_id"])
        if responsible not in (None, viewer.id) and row["manager_id"] != viewer.id:
            raise AccessDenied("this order belongs to another manager's customer")
    return _order(row)


async def get_order_by_number(pool: Pool, number: str) -> Order | None:
    row = await pool.fetchrow(SELECT_ORDER + " WHERE o.number = $1", number)
    return None if row is None else _order(row)


async def list_customer_orders(pool: Pool, customer_id: int, limit: int = 100) -> list[Order]:
    rows = await pool.fetch(SELECT_ORDER + " WHERE o.customer_id = $1 ORDER BY o.created_at DESC, o.id DESC LIMIT $2",
                            customer_id, limit)
    return [_order(r) for r in rows]


async def status_history(pool: Pool, order_id: int) -> list[StatusChange]:
    rows = await pool.fetch(
        """SELECT h.*, m.display_name AS changed_by_name FROM order_status_history h
           LEFT JOIN managers m ON m.id = h.changed_by WHERE h.order_id = $1 ORDER BY h.changed_at, h.id""",
        order_id)
    return [StatusChange(from_status=r["from_status"], to_status=r["to_status"], changed_by=r["changed_by"],
                         changed_by_name=r["changed_by_name"], changed_at=r["changed_at"], comment=r["comment"])
            for r in rows]

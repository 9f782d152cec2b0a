"""Orders: create (creating the customer for an unknown phone), update, status changes with history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, DecimalException
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
#: Every amount (an item's price, the total, the items' sum) is 0 <= amount < 10^12 with two decimals
#: (numeric(14, 2)); a quantity is a whole number 1..MAX_QTY.
MAX_AMOUNT = Decimal("1e12")
CENT = Decimal("0.01")
MAX_QTY = 100_000


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
    #: None: the sum of the items. Given with items, it must equal their sum.
    total: Decimal | str | int | float | None = None
    currency: str = "RUB"


@dataclass(frozen=True)
class OrderChange:
    """A change of an order's items or total, with who and when (status changes: StatusChange)."""

    changed_by: int | None
    changed_by_name: str | None
    changed_at: datetime
    old_total: Decimal
    new_total: Decimal
    old_items: tuple[dict[str, Any], ...]
    new_items: tuple[dict[str, Any], ...]


def clean_amount(value: object, field: str) -> Decimal:
    """A money amount: finite, 0 <= amount < 10^12, rounded to cents. Checked before any arithmetic,
    so `1e200000000` is refused rather than expanded."""
    if isinstance(value, bool):
        raise InvalidInput(f"{field} must be a number")
    try:
        amount = Decimal(str(value).strip())
    except (DecimalException, ValueError) as exc:
        raise InvalidInput(f"{field} must be a number") from exc
    if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
        raise InvalidInput(f"{field} must be between 0 and 10^12")
    # Round first, then check again: 999999999999.999 rounds up to 10^12, past numeric(14, 2).
    amount = amount.quantize(CENT)
    if amount >= MAX_AMOUNT:
        raise InvalidInput(f"{field} must be between 0 and 10^12")
    return amount


def clean_qty(value: object) -> int:
    if isinstance(value, bool):
        raise InvalidInput("items: qty must be a whole number")
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise InvalidInput(f"items: qty must be a whole number from 1 to {MAX_QTY}")
    qty = int(text)
    if not 1 <= qty <= MAX_QTY:
        raise InvalidInput(f"items: qty must be a whole number from 1 to {MAX_QTY}")
    return qty


def items_sum(items: list[dict[str, Any]]) -> Decimal:
    """The sum of cleaned items (each price < 10^12, qty <= 10^5: exact in Decimal), itself bounded."""
    total = sum((Decimal(i["price"]) * i["qty"] for i in items), Decimal(0))
    if total >= MAX_AMOUNT:
        raise InvalidInput("items: their sum must be below 10^12")
    return total.quantize(CENT)


def _clean_items(items: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"items: at most {MAX_ITEMS}")
    cleaned = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidInput("items: each item must be an object")
        name = clean_text(str(item.get("name", "")), "item name", max_len=300, min_len=1)
        qty = clean_qty(item.get("qty", 1))
        price = clean_amount(item.get("price", 0), "items: price")
        sku = clean_text(str(item.get("sku", "")), "item sku", max_len=64)
        cleaned.append({"sku": sku, "name": name, "qty": qty, "price": str(price)})
    return cleaned


def _currency(currency: str) -> str:
    currency = currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        raise InvalidInput("currency: a three-letter ISO 4217 code")
    return currency


def _checked_total(total: Decimal | str | int | float | None, items: list[dict[str, Any]]) -> Decimal:
    """The total: the items' sum when not given; when given with items, it must equal their sum."""
    if total is None:
        return items_sum(items)
    amount = clean_amount(total, "total")
    if items and amount != (expected := items_sum(items)):
        raise InvalidInput(f"total {amount} does not match the items' sum {expected}")
    return amount


def _item_out(item: dict[str, Any]) -> dict[str, Any]:
    """An item as stored, its price with two decimals (rows stored before the bound had e.g. "4590")."""
    price = item.get("price")
    try:
        amount = Decimal(str(price))
        if amount.is_finite() and 0 <= amount < MAX_AMOUNT:
            return {**item, "price": str(amount.quantize(CENT))}
    except DecimalException:
        pass
    return item


def order_from_row(row: asyncpg.Record) -> Order:
    return Order(
        id=row["id"], number=row["number"], customer_id=row["customer_id"], customer_name=row["customer_name"],
        manager_id=row["manager_id"], manager_name=row["manager_name"], channel=row["channel"],
        items=tuple(_item_out(i) for i in row["items"]), total=row["total"], currency=row["currency"],
        status=row["status"],
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
    total, currency = _checked_total(data.total, items), _currency(data.currency)
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
                       items: tuple[dict[str, Any], ...], total: Decimal | str | int | float | None,
                       currency: str, changed_by: int | None = None) -> Order:
    """Change what an order holds; the status changes only through `change_status`.

    `total` None: the items' sum. A change of items or total is kept in the order's change history
    with `changed_by` and the time.
    """
    if channel not in SALES_CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(SALES_CHANNELS)}")
    clean_items = _clean_items(items)
    given = None if total is None else clean_amount(total, "total")
    currency = _currency(currency)
    async with pool.acquire() as conn, conn.transaction():
        if manager_id is not None and not await conn.fetchval("SELECT 1 FROM managers WHERE id = $1", manager_id):
            raise InvalidInput(f"no manager {manager_id}")
        before = await conn.fetchrow("SELECT items, total FROM orders WHERE id = $1 FOR UPDATE", order_id)
        if before is None:
            raise NotFound(f"no order {order_id}")
        # Items and total left as they were are not re-checked (an order stored before the check existed
        # may disagree): changing its manager must still work.
        unchanged = before["items"] == clean_items and before["total"] == given
        amount = given if unchanged and given is not None else _checked_total(given, clean_items)
        await conn.execute(
            """UPDATE orders SET manager_id = $2, channel = $3, items = $4, total = $5, currency = $6,
                   updated_at = now() WHERE id = $1""",
            order_id, manager_id, channel, clean_items, amount, currency)
        if before["items"] != clean_items or before["total"] != amount:
            await conn.execute(
                """INSERT INTO order_changes (order_id, changed_by, old_total, new_total, old_items, new_items)
                   VALUES ($1, $2, $3, $4, $5, $6)""",
                order_id, changed_by, before["total"], amount, before["items"], clean_items)
    return await get_order(pool, order_id)


async def order_changes(pool: Pool, order_id: int) -> list[OrderChange]:
    """The order's item and total changes, oldest first."""
    rows = await pool.fetch(
        """SELECT h.*, m.display_name AS changed_by_name FROM order_changes h
           LEFT JOIN managers m ON m.id = h.changed_by WHERE h.order_id = $1 ORDER BY h.changed_at, h.id""",
        order_id)
    return [OrderChange(changed_by=r["changed_by"], changed_by_name=r["changed_by_name"],
                        changed_at=r["changed_at"], old_total=r["old_total"], new_total=r["new_total"],
                        old_items=tuple(r["old_items"]), new_items=tuple(r["new_items"])) for r in rows]


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
    return order_from_row(row)


async def get_order_by_number(pool: Pool, number: str) -> Order | None:
    row = await pool.fetchrow(SELECT_ORDER + " WHERE o.number = $1", number)
    return None if row is None else order_from_row(row)


async def list_customer_orders(pool: Pool, customer_id: int, limit: int = 100) -> list[Order]:
    rows = await pool.fetch(SELECT_ORDER + " WHERE o.customer_id = $1 ORDER BY o.created_at DESC, o.id DESC LIMIT $2",
                            customer_id, limit)
    return [order_from_row(r) for r in rows]


async def status_history(pool: Pool, order_id: int) -> list[StatusChange]:
    rows = await pool.fetch(
        """SELECT h.*, m.display_name AS changed_by_name FROM order_status_history h
           LEFT JOIN managers m ON m.id = h.changed_by WHERE h.order_id = $1 ORDER BY h.changed_at, h.id""",
        order_id)
    return [StatusChange(from_status=r["from_status"], to_status=r["to_status"], changed_by=r["changed_by"],
                         changed_by_name=r["changed_by_name"], changed_at=r["changed_at"], comment=r["comment"])
            for r in rows]

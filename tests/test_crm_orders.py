"""Orders and the status workflow against a real PostgreSQL: creation rules, transitions, history."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from crm import customers, orders
from crm.customers import CustomerInput
from crm.database import Pool
from crm.errors import AccessDenied, DuplicateOrderNumber, ForbiddenTransition, InvalidInput, InvalidPhone, NotFound
from crm.models import Order
from crm.orders import OrderInput
from tests.conftest import MakeManager

HAPPY_PATH = ("confirmed", "assembling", "shipped", "delivered", "completed")


async def _count(pool: Pool, table: str) -> int:
    value: int = await pool.fetchval(f"SELECT count(*) FROM {table}")
    return value


async def _order(pool: Pool, number: str = "1001", **kwargs: Any) -> Order:
    if "customer_id" not in kwargs and "customer_phone" not in kwargs:
        kwargs["customer_phone"] = "+79161234567"
    return await orders.create_order(pool, OrderInput(number=number, **kwargs), None)


async def _walk(pool: Pool, order: Order, path: tuple[str, ...], by: int | None = None) -> Order:
    for code in path:
        order = await orders.change_status(pool, order.id, code, by)
    return order


async def test_default_workflow_statuses_and_time_limits(pool: Pool) -> None:
    workflow = await orders.load_workflow(pool)
    assert [s.code for s in workflow.statuses] == [
        "new", "confirmed", "assembling", "shipped", "delivered", "completed", "cancelled", "return_requested",
        "returned"]
    assert workflow.initial.code == "new"
    assert workflow.status("new").time_limit == timedelta(minutes=5)
    assert workflow.status("confirmed").time_limit == timedelta(hours=2)
    assert {s.code for s in workflow.statuses if s.is_final} == {"completed", "cancelled", "returned"}
    assert all(s.time_limit is None for s in workflow.statuses if s.is_final)
    assert all(s.time_limit is not None for s in workflow.statuses if not s.is_final)
    assert workflow.status("shipped").title("ru") == "Отгружен"
    assert workflow.status("shipped").title("en") == "Shipped"


async def test_happy_path_with_history(pool: Pool, make_manager: MakeManager) -> None:
    seller = await make_manager("operator", name="Анна Смирнова")
    order = await orders.create_order(pool, OrderInput(number="1001", customer_phone="+79161234567",
                                                       manager_id=seller.id), seller.id)
    assert order.status == "new"
    previous = order
    for code in HAPPY_PATH:
        changed = await orders.change_status(pool, order.id, code, seller.id, comment=f"на {code}")
        assert changed.status == code
        assert changed.status_changed_at >= previous.status_changed_at
        assert changed.updated_at >= previous.updated_at
        previous = changed
    history = await orders.status_history(pool, order.id)
    assert [(h.from_status, h.to_status) for h in history] == [
        (None, "new"), ("new", "confirmed"), ("confirmed", "assembling"), ("assembling", "shipped"),
        ("shipped", "delivered"), ("delivered", "completed")]
    assert all(h.changed_by == seller.id and h.changed_by_name == "Анна Смирнова" for h in history)
    assert [h.comment for h in history[1:]] == [f"на {code}" for code in HAPPY_PATH]
    times = [h.changed_at for h in history]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)
    assert history[-1].changed_at == previous.status_changed_at


@pytest.mark.parametrize("path", [
    ("cancelled",),
    ("confirmed", "cancelled"),
    ("confirmed", "assembling", "cancelled"),
    ("confirmed", "assembling", "shipped", "returned"),
    ("confirmed", "assembling", "shipped", "delivered", "return_requested", "returned"),
    ("confirmed", "assembling", "shipped", "delivered", "completed", "return_requested", "returned"),
    ("confirmed", "assembling", "shipped", "delivered", "return_requested", "completed"),
])
async def test_cancellations_and_returns_are_allowed(pool: Pool, path: tuple[str, ...]) -> None:
    order = await _walk(pool, await _order(pool), path)
    assert order.status == path[-1]
    assert len(await orders.status_history(pool, order.id)) == len(path) + 1


@pytest.mark.parametrize(("path", "target", "allowed"), [
    ((), "shipped", "confirmed, cancelled"),
    ((), "completed", "confirmed, cancelled"),
    ((), "new", "confirmed, cancelled"),
    (("confirmed",), "delivered", "assembling, cancelled"),
    (("confirmed", "assembling", "shipped"), "cancelled", "delivered, returned"),
    (("confirmed", "assembling", "shipped", "delivered", "completed"), "cancelled", "return_requested"),
    (("confirmed", "assembling", "shipped", "delivered"), "returned", "completed, return_requested"),
    (("cancelled",), "new", "none (final status)"),
    (("cancelled",), "confirmed", "none (final status)"),
    (("confirmed", "assembling", "shipped", "returned"), "delivered", "none (final status)"),
])
async def test_forbidden_transitions_change_nothing(pool: Pool, make_manager: MakeManager,
                                                    path: tuple[str, ...], target: str, allowed: str) -> None:
    manager = await make_manager("supervisor")
    order = await _walk(pool, await _order(pool), path)
    history_before = await orders.status_history(pool, order.id)
    with pytest.raises(ForbiddenTransition) as info:
        await orders.change_status(pool, order.id, target, manager.id, comment="попытка")
    assert info.value.slug == "forbidden-transition" and info.value.http_status == 409
    assert info.value.message.endswith(f"allowed: {allowed}")
    assert f"'{order.status}'" in info.value.message and f"'{target}'" in info.value.message
    assert await orders.get_order(pool, order.id) == order
    assert await orders.status_history(pool, order.id) == history_before


async def test_unknown_status_or_order(pool: Pool) -> None:
    order = await _order(pool)
    with pytest.raises(InvalidInput, match="unknown order status"):
        await orders.change_status(pool, order.id, "teleported", None)
    with pytest.raises(NotFound):
        await orders.change_status(pool, 999999, "confirmed", None)
    assert len(await orders.status_history(pool, order.id)) == 1


async def test_system_change_has_no_author(pool: Pool) -> None:
    order = await orders.change_status(pool, (await _order(pool)).id, "confirmed", None)
    last = (await orders.status_history(pool, order.id))[-1]
    assert last.changed_by is None and last.changed_by_name is None


async def test_unknown_phone_creates_customer_named_after_phone(pool: Pool, make_manager: MakeManager) -> None:
    seller = await make_manager("operator")
    order = await orders.create_order(pool, OrderInput(number="1001", customer_phone="8 (916) 123-45-67",
                                                       manager_id=seller.id, total="2490.5"), seller.id)
    customer = await customers.find_by_phone(pool, "+79161234567")
    assert customer is not None
    assert customer.id == order.customer_id
    assert customer.name == "Новый клиент +7 916 123-45-67" == order.customer_name
    assert customer.responsible_manager_id == seller.id
    assert order.total == Decimal("2490.50") and order.currency == "RUB"
    assert order.manager_id == seller.id and order.manager_name == seller.display_name
    history = await orders.status_history(pool, order.id)
    assert [(h.from_status, h.to_status, h.changed_by) for h in history] == [(None, "new", seller.id)]


async def test_unknown_phone_with_name(pool: Pool) -> None:
    order = await _order(pool, customer_phone="+7 903 000 00 01", customer_name="  Ольга\x1b Ким ")
    assert order.customer_name == "Ольга Ким"


async def test_known_phone_reuses_the_customer(pool: Pool) -> None:
    known = await customers.create_customer(pool, CustomerInput(name="Старый клиент", phones=("+79161234567",)))
    order = await _order(pool, customer_phone="9161234567", customer_name="Другое имя")
    assert order.customer_id == known.id and order.customer_name == "Старый клиент"
    second = await _order(pool, "1002", customer_phone="+7 916 123-45-67")
    assert second.customer_id == known.id
    assert await _count(pool, "customers") == 1
    assert [o.number for o in await orders.list_customer_orders(pool, known.id)] == ["1002", "1001"]


async def test_order_by_customer_id(pool: Pool) -> None:
    known = await customers.create_customer(pool, CustomerInput(name="Клиент"))
    order = await _order(pool, customer_id=known.id)
    assert order.customer_id == known.id
    with pytest.raises(InvalidInput):
        await _order(pool, "1002", customer_id=999999)


async def test_duplicate_number_is_refused_and_rolls_back_the_new_customer(pool: Pool) -> None:
    first = await _order(pool, "A-1")
    with pytest.raises(DuplicateOrderNumber) as info:
        await _order(pool, "A-1", customer_phone="+79039999999")
    assert info.value.slug == "duplicate-order-number" and info.value.http_status == 409
    assert await _count(pool, "orders") == 1
    assert await customers.find_by_phone(pool, "+79039999999") is None
    assert await _count(pool, "customers") == 1
    assert await orders.get_order_by_number(pool, "A-1") == first
    assert await orders.get_order_by_number(pool, "A-2") is None


@pytest.mark.parametrize("changes", [
    {"total": "-1"},
    {"total": "abc"},
    {"total": "NaN"},
    {"total": "Infinity"},
    {"total": float("nan")},
    {"total": "1e12"},
    {"total": "999999999999.999"},  # rounds up to 10^12
    {"currency": "RU"},
    {"currency": "RUBL"},
    {"currency": "12$"},
    {"currency": "РУБ"},
    {"items": ({"name": ""},)},
    {"items": ({"name": "Чайник", "qty": 0},)},
    {"items": ({"name": "Чайник", "qty": "two"},)},
    {"items": ({"name": "Чайник", "qty": 100001},)},
    {"items": ({"name": "Чайник", "price": -5},)},
    {"items": ({"name": "Чайник", "price": "free"},)},
    {"items": ({"name": "Чайник", "price": "NaN"},)},
    {"items": ({"name": "Чайник", "price": None},)},
    {"items": ("not an object",)},
    {"items": tuple({"name": f"item {i}"} for i in range(201))},
    {"items": ({"name": "Чайник", "sku": "S" * 65},)},
    {"channel": "telepathy"},
    {"number": "   "},
    {"number": "N" * 65},
    {"customer_phone": None},
    {"customer_phone": "not a phone"},
])
async def test_bad_orders_are_refused_and_nothing_stored(pool: Pool, changes: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"number": "1001", "customer_phone": "+79161234567", **changes}
    with pytest.raises(InvalidInput):
        await orders.create_order(pool, OrderInput(**fields), None)
    assert await _count(pool, "orders") == 0
    assert await _count(pool, "customers") == 0


async def test_bad_phone_is_an_invalid_phone(pool: Pool) -> None:
    with pytest.raises(InvalidPhone):
        await _order(pool, customer_phone="79161234567'; DROP TABLE orders;--")


async def test_unknown_manager_is_refused(pool: Pool) -> None:
    with pytest.raises(InvalidInput, match="no manager"):
        await _order(pool, manager_id=424242)
    assert await _count(pool, "customers") == 0


async def test_items_and_money_are_normalised(pool: Pool) -> None:
    order = await _order(pool, items=({"sku": " SKU-1 ", "name": "Чайник\x00", "qty": "2", "price": 2490},
                                      {"name": "Фен", "price": "2990.50"}),
                         total=7970.5, currency=" usd ", channel="marketplace")
    assert order.items == ({"sku": "SKU-1", "name": "Чайник", "qty": 2, "price": "2490.00"},
                           {"sku": "", "name": "Фен", "qty": 1, "price": "2990.50"})
    assert order.total == Decimal("7970.50") and order.currency == "USD" and order.channel == "marketplace"
    largest = await _order(pool, "1002", total="999999999999.99")
    assert largest.total == Decimal("999999999999.99")


async def test_update_order_keeps_status(pool: Pool, make_manager: MakeManager) -> None:
    seller = await make_manager("operator")
    order = await orders.change_status(pool, (await _order(pool)).id, "confirmed", None)
    updated = await orders.update_order(pool, order.id, manager_id=seller.id, channel="phone",
                                        items=({"name": "Утюг", "price": 3290},), total=3290, currency="RUB")
    assert updated.status == "confirmed" and updated.manager_id == seller.id and updated.channel == "phone"
    assert updated.total == Decimal("3290.00") and updated.items[0]["name"] == "Утюг"
    assert updated.status_changed_at == order.status_changed_at
    with pytest.raises(InvalidInput):
        await orders.update_order(pool, order.id, manager_id=None, channel="site", items=(), total=-1,
                                  currency="RUB")
    with pytest.raises(NotFound):
        await orders.update_order(pool, 999999, manager_id=None, channel="site", items=(), total=0,
                                  currency="RUB")
    assert await orders.get_order(pool, order.id) == updated


async def test_get_order_scoping(pool: Pool, make_manager: MakeManager) -> None:
    owner = await make_manager("operator")
    other = await make_manager("operator")
    head = await make_manager("supervisor")
    owned = await customers.create_customer(pool, CustomerInput(name="Свой", responsible_manager_id=owner.id))
    order = await _order(pool, customer_id=owned.id)
    assert (await orders.get_order(pool, order.id, owner)).id == order.id
    assert (await orders.get_order(pool, order.id, head)).id == order.id
    with pytest.raises(AccessDenied):
        await orders.get_order(pool, order.id, other)
    # The manager of the order itself may see it even if the customer is someone else's.
    assigned = await _order(pool, "1002", customer_id=owned.id, manager_id=other.id)
    assert (await orders.get_order(pool, assigned.id, other)).id == assigned.id
    with pytest.raises(NotFound):
        await orders.get_order(pool, 999999)


async def test_concurrent_orders_for_one_new_phone_share_one_customer(pool: Pool) -> None:
    """Two shop webhooks for the same new caller at once: both orders land, on one customer."""
    placed = await asyncio.gather(*(_order(pool, f"W-{i}", customer_phone="8 916 555-00-11") for i in range(4)))
    assert len({o.customer_id for o in placed}) == 1
    assert await _count(pool, "customers") == 1 and await _count(pool, "orders") == 4

"""Bounded numbers in orders (issue 9): every price, quantity and total is bounded in the API, the form and
the CRM; the total agrees with the items; changes of items and total are kept with who and when."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import customers, managers, orders
from crm.customers import CustomerInput
from crm.database import Pool
from crm.errors import InvalidInput
from crm.orders import OrderInput
from tests.conftest import MakeManager, login

Client = TestClient[web.Request, web.Application]
HUGE = ["1e200000000", "1e999999999", "9e999999999", "1000000000000", "-1", "NaN", "Infinity", "1e-999999999999"]


async def _auth(pool: Pool, make_manager: MakeManager) -> dict[str, str]:
    manager = await make_manager("supervisor")
    return {"Authorization": f"Bearer {await managers.create_api_token(pool, manager.id)}"}


async def _post(client: Client, auth: dict[str, str], number: str, **fields: Any) -> tuple[int, dict[str, Any]]:
    response = await client.post("/api/v1/orders", json={"number": number, "customer_phone": "+79031112233",
                                                         **fields}, headers=auth)
    return response.status, await response.json()


@pytest.mark.parametrize("price", HUGE[:-1])
async def test_api_refuses_unbounded_prices(client: Client, pool: Pool, make_manager: MakeManager,
                                            price: str) -> None:
    auth = await _auth(pool, make_manager)
    status, body = await _post(client, auth, "H-1", items=[{"name": "Чайник", "qty": 1, "price": price}])
    assert status == 422 and body["error"] == "invalid-input", body
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0


async def test_api_bounds_quantities_and_sums(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    auth = await _auth(pool, make_manager)
    for qty in (0, 100_001, 10**30):
        status, _ = await _post(client, auth, "Q-1", items=[{"name": "Чайник", "qty": qty, "price": "1"}])
        assert status == 422, qty
    # Each line under 10^12, together over it: refused too.
    status, body = await _post(client, auth, "Q-2", items=[{"name": "Слиток", "qty": 100_000,
                                                              "price": "999999999999.99"}])
    assert status == 422 and "sum" in body["message"]


async def test_api_total_must_match_the_items_or_is_computed(client: Client, pool: Pool,
                                                             make_manager: MakeManager) -> None:
    auth = await _auth(pool, make_manager)
    items = [{"name": "Чайник", "qty": 2, "price": "995"}, {"name": "Фен", "qty": 1, "price": "0.5"}]
    status, body = await _post(client, auth, "T-1", items=items, total="1")
    assert status == 422 and "1990.50" in body["message"]
    status, body = await _post(client, auth, "T-2", items=items)
    assert status == 201 and body["total"] == "1990.50"
    assert [i["price"] for i in body["items"]] == ["995.00", "0.50"]  # as the document says: two decimals


@pytest.mark.parametrize(("qty", "price"), [("10", "9e999999999"), ("99999999999999999999", "1"),
                                            ("1", "1e200000000"), ("5", "999999999999")])
async def test_the_order_form_refuses_unbounded_numbers(client: Client, pool: Pool, make_manager: MakeManager,
                                                        qty: str, price: str) -> None:
    operator = await make_manager("operator")
    customer = await customers.create_customer(pool, CustomerInput(name="Клиент", responsible_manager_id=operator.id))
    csrf = await login(client, operator)
    response = await client.post(f"/customers/{customer.id}/orders/new", allow_redirects=False, data=[
        ("_csrf", csrf), ("number", "F-1"), ("channel", "phone"), ("currency", "RUB"), ("total", ""),
        ("item_name", "Утюг"), ("item_qty", qty), ("item_price", price)])
    assert response.status == 422, await response.text()
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0


@pytest.mark.parametrize("price", HUGE)
async def test_the_crm_refuses_unbounded_prices(pool: Pool, price: str) -> None:
    data = OrderInput(number="C-1", customer_phone="+79031112233", items=({"name": "Чайник", "price": price},))
    if price == "1e-999999999999":  # tiny, not huge: rounds to 0.00, which is a valid price
        order = await orders.create_order(pool, data, None)
        assert order.items[0]["price"] == "0.00" and order.total == 0
        return
    with pytest.raises(InvalidInput):
        await orders.create_order(pool, data, None)


async def test_changes_of_items_and_total_are_kept_with_who_and_when(client: Client, pool: Pool,
                                                                    make_manager: MakeManager) -> None:
    seller = await make_manager("supervisor", name="Ольга Петрова")
    order = await orders.create_order(pool, OrderInput(number="H-1", customer_phone="+79031112233",
                                                       items=({"name": "Чайник", "qty": 1, "price": "100"},)), None)
    auth = {"Authorization": f"Bearer {await managers.create_api_token(pool, seller.id)}"}
    response = await client.patch(f"/api/v1/orders/{order.id}", headers=auth, json={
        "items": [{"name": "Чайник", "qty": 3, "price": "100"}]})
    assert response.status == 200 and (await response.json())["total"] == "300.00"
    await client.patch(f"/api/v1/orders/{order.id}", headers=auth, json={"channel": "phone"})  # no item change
    (change,) = await orders.order_changes(pool, order.id)
    assert (change.changed_by, change.old_total, change.new_total) == (seller.id, Decimal(100), Decimal(300))
    assert change.old_items[0]["qty"] == 1 and change.new_items[0]["qty"] == 3
    await login(client, seller)
    html = await (await client.get(f"/orders/{order.id}")).text()
    assert "Ольга Петрова" in html and "300.00" in html


async def test_an_order_stored_before_the_bounds_renders_small(client: Client, pool: Pool,
                                                                make_manager: MakeManager) -> None:
    """A hostile price already in the database (written before the bounds) is shown as "?", not expanded."""
    head = await make_manager("supervisor")
    order = await orders.create_order(pool, OrderInput(number="OLD-1", customer_phone="+79031112233"), None)
    await pool.execute("""UPDATE orders SET items = '[{"name": "Чайник", "qty": 3, "price": "1E+200000000"}]'
                          WHERE id = $1""", order.id)
    await login(client, head)
    response = await client.get(f"/orders/{order.id}")
    html = await response.text()
    assert response.status == 200 and len(html) < 200_000 and "Чайник" in html and "?" in html
    api = await client.get(f"/api/v1/orders/{order.id}",
                           headers={"Authorization": f"Bearer {await managers.create_api_token(pool, head.id)}"})
    assert api.status == 200 and len(await api.read()) < 200_000

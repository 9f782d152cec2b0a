"""Order pages over real HTTP: items, status buttons from the workflow, refused transitions, new orders."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import customers, orders
from crm.customers import CustomerInput
from crm.database import Pool
from crm.models import Manager, Order
from crm.orders import OrderInput
from tests.conftest import MakeManager, login

Client = TestClient[web.Request, web.Application]


async def _order(pool: Pool, owner: Manager | None = None) -> Order:
    customer = await customers.create_customer(pool, CustomerInput(
        name="Покупатель", responsible_manager_id=owner.id if owner else None))
    return await orders.create_order(pool, OrderInput(
        number="20001", customer_id=customer.id, total=5780,
        items=({"sku": "K-1", "name": "Чайник", "qty": 2, "price": 2490}, {"name": "Фен", "qty": 1, "price": 800})),
        None)


async def test_order_page_shows_items_status_and_allowed_buttons(client: Client, pool: Pool,
                                                                 make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    order = await _order(pool, operator)
    await login(client, operator)
    response = await client.get(f"/orders/{order.id}")
    assert response.status == 200
    html = await response.text()
    for expected in ("20001", "Покупатель", f'href="/customers/{order.customer_id}"', "Чайник", "K-1", "Фен",
                     "4\u202f980.00", "5\u202f780.00 RUB", "Новый"):
        assert expected in html, expected
    assert 'name="status" value="confirmed"' in html and 'name="status" value="cancelled"' in html
    assert 'name="status" value="shipped"' not in html


async def test_allowed_transition_is_recorded_in_history(client: Client, pool: Pool,
                                                         make_manager: MakeManager) -> None:
    operator = await make_manager("operator", name="Борис Кузнецов")
    order = await _order(pool, operator)
    csrf = await login(client, operator)
    response = await client.post(f"/orders/{order.id}/status",
                                 data={"_csrf": csrf, "status": "confirmed", "comment": "клиент подтвердил"})
    assert response.status == 200
    html = await response.text()
    assert "Подтверждён" in html and "клиент подтвердил" in html and "Борис Кузнецов" in html
    assert 'name="status" value="assembling"' in html
    assert (await orders.get_order(pool, order.id)).status == "confirmed"


async def test_forbidden_transition_shows_error_and_changes_nothing(client: Client, pool: Pool,
                                                                    make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    order = await _order(pool, operator)
    csrf = await login(client, operator)
    response = await client.post(f"/orders/{order.id}/status", data={"_csrf": csrf, "status": "delivered"})
    assert response.status == 409
    html = await response.text()
    assert "Такая смена статуса запрещена" in html and "нельзя перевести в «delivered»" in html
    assert (await orders.get_order(pool, order.id)).status == "new"
    assert await pool.fetchval("SELECT count(*) FROM order_status_history WHERE order_id = $1", order.id) == 1
    response = await client.post(f"/orders/{order.id}/status", data={"_csrf": csrf, "status": "no_such"})
    assert response.status == 422
    assert (await orders.get_order(pool, order.id)).status == "new"


async def test_status_change_without_csrf_is_forbidden(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    order = await _order(pool, operator)
    await login(client, operator)
    response = await client.post(f"/orders/{order.id}/status", data={"status": "confirmed"})
    assert response.status == 403
    assert (await orders.get_order(pool, order.id)).status == "new"
    assert await pool.fetchval("SELECT count(*) FROM order_status_history WHERE order_id = $1", order.id) == 1


async def test_operator_cannot_open_or_change_another_operators_order(client: Client, pool: Pool,
                                                                      make_manager: MakeManager) -> None:
    me = await make_manager("operator")
    other = await make_manager("operator")
    order = await _order(pool, other)
    csrf = await login(client, me)
    assert (await client.get(f"/orders/{order.id}")).status == 403
    response = await client.post(f"/orders/{order.id}/status", data={"_csrf": csrf, "status": "confirmed"})
    assert response.status == 403
    assert (await orders.get_order(pool, order.id)).status == "new"


async def test_status_titles_follow_the_users_language(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    supervisor = await make_manager("supervisor")
    order = await _order(pool)
    csrf = await login(client, supervisor)
    await client.post("/locale", data={"_csrf": csrf, "locale": "en", "next": f"/orders/{order.id}"})
    html = await (await client.get(f"/orders/{order.id}")).text()
    assert ">New<" in html and "Confirmed" in html and "Новый" not in html


async def test_new_order_from_the_card(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    customer = await customers.create_customer(pool, CustomerInput(name="Клиент", responsible_manager_id=operator.id))
    csrf = await login(client, operator)
    assert f"/customers/{customer.id}/orders/new" in await (await client.get(f"/customers/{customer.id}")).text()
    assert (await client.get(f"/customers/{customer.id}/orders/new")).status == 200
    response = await client.post(f"/customers/{customer.id}/orders/new", allow_redirects=False, data=[
        ("_csrf", csrf), ("number", "P-1"), ("channel", "phone"), ("currency", "RUB"), ("total", ""),
        ("item_name", "Утюг"), ("item_qty", "2"), ("item_price", "3290,50"),
        ("item_name", ""), ("item_qty", "1"), ("item_price", "")])
    assert response.status == 303
    order = await orders.get_order_by_number(pool, "P-1")
    assert order is not None and response.headers["Location"] == f"/orders/{order.id}"
    assert str(order.total) == "6581.00" and order.channel == "phone" and order.manager_id == operator.id
    assert [i["name"] for i in order.items] == ["Утюг"]


async def test_duplicate_order_number_is_refused_with_input_kept(client: Client, pool: Pool,
                                                                 make_manager: MakeManager) -> None:
    admin = await make_manager("admin")
    order = await _order(pool)
    csrf = await login(client, admin)
    response = await client.post(f"/customers/{order.customer_id}/orders/new", data=[
        ("_csrf", csrf), ("number", "20001"), ("channel", "site"), ("item_name", "Миксер"), ("item_qty", "1"),
        ("item_price", "100")])
    assert response.status == 409
    html = await response.text()
    assert "заказ с номером &#39;20001&#39; уже есть" in html and "Миксер" in html
    assert await pool.fetchval("SELECT count(*) FROM orders") == 1

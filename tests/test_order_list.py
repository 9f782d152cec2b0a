"""Finding orders: status tabs with counts, filters, role scoping, the sync cursor of the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import customers, managers, order_list, orders
from crm.customers import CustomerInput
from crm.database import Pool
from crm.models import Manager
from crm.order_list import OrderFilter
from crm.orders import OrderInput
from tests.conftest import MakeManager, login

Client = TestClient[web.Request, web.Application]


async def _shop(pool: Pool, make_manager: MakeManager) -> dict[str, int]:
    anna = await make_manager("operator")
    boris = await make_manager("operator")
    mine = await customers.create_customer(pool, CustomerInput(name="Клиент Анны", responsible_manager_id=anna.id))
    theirs = await customers.create_customer(pool, CustomerInput(name="Клиент Бориса", responsible_manager_id=boris.id))
    a1 = await orders.create_order(pool, OrderInput(number="A-1", customer_id=mine.id, manager_id=anna.id,
                                                    total="100"), None)
    a2 = await orders.create_order(pool, OrderInput(number="A-2", customer_id=mine.id, channel="phone",
                                                    total="200"), None)
    b1 = await orders.create_order(pool, OrderInput(number="B-1", customer_id=theirs.id, manager_id=boris.id,
                                                    total="300"), None)
    await orders.change_status(pool, a1.id, "confirmed", None)
    # A-2 has sat in "new" (limit 5 minutes) for an hour.
    await pool.execute("UPDATE orders SET status_changed_at = now() - interval '1 hour' WHERE id = $1", a2.id)
    return {"anna": anna.id, "boris": boris.id, "a1": a1.id, "a2": a2.id, "b1": b1.id}


async def test_filters_scoping_and_counts(pool: Pool, make_manager: MakeManager) -> None:
    ids = await _shop(pool, make_manager)
    head = await make_manager("supervisor")
    anna = await _manager(pool, ids["anna"])

    async def numbers(viewer_id: int | None, **flt: Any) -> list[str]:
        viewer = head if viewer_id is None else await _manager(pool, viewer_id)
        page = await order_list.list_orders(pool, viewer, OrderFilter(**flt))
        return [o.number for o in page.items]

    assert await numbers(None) == ["B-1", "A-2", "A-1"]
    assert await numbers(ids["anna"]) == ["A-2", "A-1"]  # Boris's customer is not hers
    assert await numbers(None, status="new") == ["B-1", "A-2"]
    assert await numbers(None, overdue=True) == ["A-2"]
    assert await numbers(None, unassigned=True) == ["A-2"]
    assert await numbers(None, manager_id=ids["boris"]) == ["B-1"]
    assert await numbers(None, channel="phone") == ["A-2"]
    assert await numbers(None, number="A-1") == ["A-1"]
    assert await order_list.status_counts(pool, head, OrderFilter(status="new")) == {"new": 2, "confirmed": 1}
    assert await order_list.status_counts(pool, anna, OrderFilter()) == {"new": 1, "confirmed": 1}


async def _manager(pool: Pool, manager_id: int) -> Manager:
    return await managers.get_manager(pool, manager_id)


async def test_the_api_pages_through_changes_since_a_moment(client: Client, pool: Pool, make_manager: MakeManager
                                                            ) -> None:
    ids = await _shop(pool, make_manager)
    await login(client, await make_manager("supervisor"))
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    await pool.execute("UPDATE orders SET updated_at = now() - interval '1 day' WHERE id = $1", ids["b1"])
    first = await (await client.get("/api/v1/orders", params={"updated_since": since, "limit": "1"})).json()
    second = await (await client.get("/api/v1/orders", params={"updated_since": since, "limit": "1",
                                                               "offset": "1"})).json()
    assert [o["number"] for o in first["items"] + second["items"]] == ["A-2", "A-1"]  # oldest change first
    assert first["has_more"] is True and second["has_more"] is False
    by_status = await (await client.get("/api/v1/orders", params={"status": "confirmed"})).json()
    assert [o["number"] for o in by_status["items"]] == ["A-1"]
    nobody = await (await client.get("/api/v1/orders", params={"manager": "none"})).json()
    assert [o["number"] for o in nobody["items"]] == ["A-2"]
    for bad in ({"manager": "x"}, {"channel": "fax"}, {"updated_since": "yesterday"}, {"overdue": "maybe"},
                {"customer": "-1"}, {"status": "no such!"}):
        assert (await client.get("/api/v1/orders", params=bad)).status == 422, bad


async def test_the_orders_page_shows_tabs_with_counts_and_marks_late_orders(client: Client, pool: Pool,
                                                                           make_manager: MakeManager) -> None:
    await _shop(pool, make_manager)
    await login(client, await make_manager("supervisor"))
    html = await (await client.get("/orders")).text()
    assert 'data-status="new"' in html and "Новый <span class=\"count\">2</span>" in html
    assert "Просрочен" in html
    late = await (await client.get("/orders?overdue=1")).text()
    assert "A-2" in late and "B-1" not in late

"""Orders over the REST API: the shop integration path, status workflow, duplicates, patching, scoping."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import managers
from crm.database import Pool
from crm.models import Manager
from tests.conftest import MakeManager

Client = TestClient[web.Request, web.Application]

ITEMS = [{"sku": "A-1", "name": "Чайник", "qty": 2, "price": "995.00"}]


async def bearer(pool: Pool, manager: Manager) -> dict[str, str]:
    return {"Authorization": f"Bearer {await managers.create_api_token(pool, manager.id)}"}


async def post_order(client: Client, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/orders", json=fields, headers=auth)
    assert response.status == 201, await response.text()
    assert response.headers["Location"].startswith("/api/v1/orders/")
    body: dict[str, Any] = await response.json()
    return body


async def history_rows(pool: Pool, order_id: int) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM order_status_history WHERE order_id = $1", order_id)
    return count


async def test_order_for_unknown_phone_creates_the_customer(client: Client, pool: Pool,
                                                            make_manager: MakeManager) -> None:
    shop = await make_manager("admin", login="shop")
    auth = await bearer(pool, shop)
    order = await post_order(client, auth, number="SH-1001", customer_phone="8 (916) 123-45-67",
                             customer_name="Анна <Shop>", channel="site", items=ITEMS, total="1990", currency="rub")
    found = await (await client.get("/api/v1/customers", params={"phone": "+7 916 123 45 67"}, headers=auth)).json()
    assert len(found["items"]) == 1
    customer = found["items"][0]
    assert customer["id"] == order["customer_id"] and customer["name"] == "Анна <Shop>"
    assert order["customer_name"] == "Анна <Shop>"
    assert order["total"] == "1990.00" and order["currency"] == "RUB" and order["status"] == "new"
    assert order["items"] == [{"sku": "A-1", "name": "Чайник", "qty": 2, "price": "995.00"}]
    assert order["status_changed_at"].endswith("+00:00")
    # The same number in another format is the same customer.
    again = await post_order(client, auth, number="SH-1002", customer_phone="79161234567", total=10.1)
    assert again["customer_id"] == customer["id"] and again["total"] == "10.10"
    by_number = await (await client.get("/api/v1/customers", params={"q": "SH-1002"}, headers=auth)).json()
    assert [c["id"] for c in by_number["items"]] == [customer["id"]]


async def test_get_order_has_history_and_next_statuses(client: Client, pool: Pool,
                                                       make_manager: MakeManager) -> None:
    manager = await make_manager("supervisor")
    auth = await bearer(pool, manager)
    created = await post_order(client, auth, number="N-1", customer_phone="+79031112233", manager_id=manager.id)
    response = await client.get(f"/api/v1/orders/{created['id']}", headers=auth)
    assert response.status == 200
    order = await response.json()
    assert order == created
    assert order["manager_name"] == manager.display_name
    assert [(h["from_status"], h["to_status"], h["changed_by"]) for h in order["history"]] == [
        (None, "new", manager.id)]
    assert [s["code"] for s in order["next_statuses"]] == ["confirmed", "cancelled"]
    assert order["next_statuses"][0]["title_en"] == "Confirmed"


async def test_status_change_allowed_and_forbidden(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    auth = await bearer(pool, await make_manager("supervisor"))
    order = await post_order(client, auth, number="W-1", customer_phone="+79031112233")
    url = f"/api/v1/orders/{order['id']}/status"

    moved = await client.post(url, json={"status": "confirmed", "comment": "called back"}, headers=auth)
    assert moved.status == 200
    body = await moved.json()
    assert body["status"] == "confirmed" and body["history"][-1]["comment"] == "called back"
    assert [s["code"] for s in body["next_statuses"]] == ["assembling", "cancelled"]
    assert await history_rows(pool, order["id"]) == 2

    refused = await client.post(url, json={"status": "delivered"}, headers=auth)
    assert refused.status == 409
    error = await refused.json()
    assert error["error"] == "forbidden-transition"
    assert "'confirmed'" in error["message"] and "'delivered'" in error["message"] and "assembling" in error["message"]
    after = await (await client.get(f"/api/v1/orders/{order['id']}", headers=auth)).json()
    assert after["status"] == "confirmed" and len(after["history"]) == 2
    assert await history_rows(pool, order["id"]) == 2

    unknown = await client.post(url, json={"status": "teleported"}, headers=auth)
    assert unknown.status == 422 and (await unknown.json())["error"] == "invalid-input"
    missing = await client.post(url, json={}, headers=auth)
    assert missing.status == 422 and "status" in (await missing.json())["message"]
    assert (await client.post("/api/v1/orders/999999/status", json={"status": "confirmed"},
                              headers=auth)).status == 404
    assert await history_rows(pool, order["id"]) == 2


async def test_duplicate_number_and_bad_input(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    auth = await bearer(pool, await make_manager("admin"))
    await post_order(client, auth, number="D-1", customer_phone="+79031112233")
    duplicate = await client.post("/api/v1/orders", json={"number": "D-1", "customer_phone": "+79161234567"},
                                  headers=auth)
    assert duplicate.status == 409 and (await duplicate.json())["error"] == "duplicate-order-number"
    # The refused order did not leave its new customer behind.
    assert (await (await client.get("/api/v1/customers", params={"phone": "+79161234567"},
                                    headers=auth)).json())["items"] == []
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"number": "D-2"}, "invalid-input", "customer"),
        ({"number": "D-2", "customer_phone": "nope"}, "invalid-phone", ""),
        ({"number": "D-2", "customer_id": 1, "customer_phone": "+79031112233"}, "invalid-input", "not both"),
        ({"number": "D-2", "customer_id": 424242}, "invalid-input", "customer_id"),
        ({"number": "D-2", "customer_id": "1"}, "invalid-input", "customer_id"),
        ({"number": "D-2", "customer_phone": "+79031112233", "total": "lots"}, "invalid-input", "total"),
        ({"number": "D-2", "customer_phone": "+79031112233", "total": True}, "invalid-input", "total"),
        ({"number": "D-2", "customer_phone": "+79031112233", "channel": "fax"}, "invalid-input", "channel"),
        ({"number": "D-2", "customer_phone": "+79031112233", "items": [{"name": "x", "qty": "2"}]},
         "invalid-input", "items[0].qty"),
        ({"number": "D-2", "customer_phone": "+79031112233", "items": [{"qty": 1}]}, "invalid-input",
         "items[0].name"),
        ({"number": "D-2", "customer_phone": "+79031112233", "items": [{"name": "x", "colour": "red"}]},
         "unknown-field", "colour"),
        ({"number": "x" * 65, "customer_phone": "+79031112233"}, "invalid-input", "number"),
    ]
    for fields, slug, fragment in cases:
        response = await client.post("/api/v1/orders", json=fields, headers=auth)
        assert response.status == 422, fields
        error = await response.json()
        assert error["error"] == slug and fragment in error["message"], (fields, error)
    assert await pool.fetchval("SELECT count(*) FROM orders") == 1


async def test_patch_order(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    manager = await make_manager("supervisor")
    auth = await bearer(pool, manager)
    order = await post_order(client, auth, number="P-1", customer_phone="+79031112233", items=ITEMS, total="1990")
    url = f"/api/v1/orders/{order['id']}"
    # A total that disagrees with the items is refused; the items' sum is the total.
    mismatch = await client.patch(url, json={"total": "2100.5"}, headers=auth)
    assert mismatch.status == 422 and "sum" in (await mismatch.json())["message"]
    response = await client.patch(url, json={"total": "1990", "manager_id": manager.id, "channel": "phone"},
                                  headers=auth)
    assert response.status == 200
    body = await response.json()
    assert body["total"] == "1990.00" and body["manager_id"] == manager.id and body["channel"] == "phone"
    assert body["items"] == order["items"] and body["currency"] == "RUB"
    repriced = await client.patch(url, json={"items": [{"name": "Чайник", "qty": 1, "price": "2100.5"}]},
                                  headers=auth)
    assert repriced.status == 200 and (await repriced.json())["total"] == "2100.50"
    status_patch = await client.patch(url, json={"status": "completed"}, headers=auth)
    assert status_patch.status == 422 and (await status_patch.json())["error"] == "unknown-field"
    assert (await (await client.get(url, headers=auth)).json())["status"] == "new"


async def test_operator_cannot_reach_another_operators_order(client: Client, pool: Pool,
                                                             make_manager: MakeManager) -> None:
    alice, bob = await make_manager("operator"), await make_manager("operator")
    head_auth = await bearer(pool, await make_manager("supervisor"))
    customer = await (await client.post("/api/v1/customers", json={"name": "Bob's", "responsible_manager_id": bob.id,
                                                              "phones": ["+79161234567"]},
                                        headers=head_auth)).json()
    order = await post_order(client, head_auth, number="S-1", customer_id=customer["id"])
    alice_auth = await bearer(pool, alice)
    for method, path, body in (("GET", f"/api/v1/orders/{order['id']}", None),
                               ("PATCH", f"/api/v1/orders/{order['id']}", {"total": "1"}),
                               ("POST", f"/api/v1/orders/{order['id']}/status", {"status": "cancelled"}),
                               ("POST", "/api/v1/orders", {"number": "S-2", "customer_id": customer["id"]}),
                               ("POST", "/api/v1/orders", {"number": "S-3", "customer_phone": "89161234567"})):
        response = await client.request(method, path, json=body, headers=alice_auth)
        assert response.status == 403, (method, path)
        assert (await response.json())["error"] == "access-denied"
    assert (await (await client.get(f"/api/v1/orders/{order['id']}", headers=head_auth)).json())["status"] == "new"
    assert await pool.fetchval("SELECT count(*) FROM orders") == 1
    bob_view = await client.get(f"/api/v1/orders/{order['id']}", headers=await bearer(pool, bob))
    assert bob_view.status == 200

"""Tasks over the REST API: create, filters, role scoping, completing once."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import managers
from crm.database import Pool
from crm.models import Manager
from tests.conftest import MakeManager

Client = TestClient[web.Request, web.Application]


async def bearer(pool: Pool, manager: Manager) -> dict[str, str]:
    return {"Authorization": f"Bearer {await managers.create_api_token(pool, manager.id)}"}


async def new_task(client: Client, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/tasks", json=fields, headers=auth)
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    assert response.headers["Location"] == f"/api/v1/tasks/{body['id']}"
    return body


async def ids(client: Client, auth: dict[str, str], **params: str) -> set[int]:
    response = await client.get("/api/v1/tasks", params=params, headers=auth)
    assert response.status == 200, await response.text()
    return {t["id"] for t in (await response.json())["items"]}


async def test_create_task_with_links_and_due_time(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    auth = await bearer(pool, operator)
    customer = await (await client.post("/api/v1/customers", json={"name": "Анна"}, headers=auth)).json()
    task = await new_task(client, auth, kind="follow_up", title="Перезвонить <b>завтра</b>",
                          customer_id=customer["id"], assignee_id=operator.id, due_at="2030-01-31T18:00:00+03:00")
    assert task["title"] == "Перезвонить <b>завтра</b>" and task["status"] == "open"
    assert task["customer_name"] == "Анна" and task["assignee_name"] == operator.display_name
    assert task["due_at"] == "2030-01-31T15:00:00+00:00" and task["created_by_id"] == operator.id
    assert await (await client.get(f"/api/v1/tasks/{task['id']}", headers=auth)).json() == task
    for fields, fragment in (({"title": "x", "due_at": "2030-01-31T18:00:00"}, "time zone"),
                             ({"title": "x", "due_at": "tomorrow"}, "due_at"),
                             ({"title": "x", "kind": "nap"}, "kind"),
                             ({"title": ""}, "title"),
                             ({"title": "x", "customer_id": 987654}, "customer_id"),
                             ({"title": "x", "assignee_id": 987654}, "does not exist"),
                             ({"kind": "custom"}, "title")):
        response = await client.post("/api/v1/tasks", json=fields, headers=auth)
        assert response.status == 422, fields
        assert fragment in (await response.json())["message"], fields
    assert await pool.fetchval("SELECT count(*) FROM tasks") == 1


async def test_filters_by_assignee_status_and_kind(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    head, alice = await make_manager("supervisor"), await make_manager("operator")
    auth = await bearer(pool, head)
    mine = await new_task(client, auth, kind="callback", title="mine", assignee_id=head.id)
    alices = await new_task(client, auth, kind="follow_up", title="alice's", assignee_id=alice.id)
    free = await new_task(client, auth, kind="custom", title="free")
    done = await new_task(client, auth, kind="callback", title="done", assignee_id=alice.id)
    closed = await client.post(f"/api/v1/tasks/{done['id']}/complete", json={"result_note": "ok"}, headers=auth)
    assert closed.status == 200

    assert await ids(client, auth) == {mine["id"], alices["id"], free["id"], done["id"]}
    assert await ids(client, auth, assignee="me") == {mine["id"]}
    assert await ids(client, auth, assignee="none") == {free["id"]}
    assert await ids(client, auth, assignee=str(alice.id)) == {alices["id"], done["id"]}
    assert await ids(client, auth, status="open") == {mine["id"], alices["id"], free["id"]}
    assert await ids(client, auth, status="done") == {done["id"]}
    assert await ids(client, auth, kind="callback") == {mine["id"], done["id"]}
    assert await ids(client, auth, kind="callback", status="open", assignee="me") == {mine["id"]}
    page = await (await client.get("/api/v1/tasks", params={"limit": "1"}, headers=auth)).json()
    assert len(page["items"]) == 1 and page["has_more"] is True and page["limit"] == 1
    for params in ({"assignee": "someone"}, {"status": "sleeping"}, {"kind": "nap"}, {"limit": "201"}):
        response = await client.get("/api/v1/tasks", params=params, headers=auth)
        assert response.status == 422, params
        assert (await response.json())["error"] == "invalid-input"


async def test_operator_sees_own_and_unassigned_tasks_only(client: Client, pool: Pool,
                                                           make_manager: MakeManager) -> None:
    alice, bob = await make_manager("operator"), await make_manager("operator")
    head_auth, alice_auth = await bearer(pool, await make_manager("supervisor")), await bearer(pool, alice)
    alices = await new_task(client, head_auth, title="alice's", assignee_id=alice.id)
    bobs = await new_task(client, head_auth, title="bob's", assignee_id=bob.id)
    free = await new_task(client, head_auth, title="free")

    assert await ids(client, alice_auth) == {alices["id"], free["id"]}
    assert await ids(client, alice_auth, assignee=str(bob.id)) == set()
    denied = await client.get(f"/api/v1/tasks/{bobs['id']}", headers=alice_auth)
    assert denied.status == 403 and (await denied.json())["error"] == "access-denied"
    complete = await client.post(f"/api/v1/tasks/{bobs['id']}/complete", json={}, headers=alice_auth)
    assert complete.status == 403
    assert (await (await client.get(f"/api/v1/tasks/{bobs['id']}", headers=head_auth)).json())["status"] == "open"


async def test_complete_twice_is_a_conflict(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    auth = await bearer(pool, operator)
    task = await new_task(client, auth, kind="callback", title="call back", assignee_id=operator.id)
    url = f"/api/v1/tasks/{task['id']}/complete"
    first = await client.post(url, json={"result_note": "  reached\x07 the customer\n"}, headers=auth)
    assert first.status == 200
    body = await first.json()
    assert body["status"] == "done" and body["result_note"] == "reached the customer"
    assert body["closed_at"] is not None
    second = await client.post(url, json={"result_note": "again"}, headers=auth)
    assert second.status == 409 and (await second.json())["error"] == "conflict"
    after = await (await client.get(f"/api/v1/tasks/{task['id']}", headers=auth)).json()
    assert after["result_note"] == "reached the customer" and after["closed_at"] == body["closed_at"]
    other = await new_task(client, auth, title="no note")
    no_body = await client.post(f"/api/v1/tasks/{other['id']}/complete", headers=auth)
    assert no_body.status == 200 and (await no_body.json())["result_note"] == ""
    assert (await client.post("/api/v1/tasks/424242/complete", headers=auth)).status == 404

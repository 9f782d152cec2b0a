"""Customers over the REST API: auth, phone lookup in any format, create/get/patch, hostile input, scoping."""

from __future__ import annotations

import io
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import managers
from crm.database import Pool
from crm.models import Manager
from tests.conftest import MakeManager, login

Client = TestClient[web.Request, web.Application]


async def bearer(pool: Pool, manager: Manager) -> dict[str, str]:
    return {"Authorization": f"Bearer {await managers.create_api_token(pool, manager.id)}"}


async def create(client: Client, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/customers", json=fields, headers=headers)
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_missing_wrong_or_revoked_token_is_401_json(client: Client, pool: Pool,
                                                          make_manager: MakeManager) -> None:
    for headers in ({}, {"Authorization": "Bearer pzv_not-a-real-token"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        response = await client.get("/api/v1/customers", headers=headers)
        assert response.status == 401
        assert response.content_type == "application/json"
        assert (await response.json())["error"] == "unauthorized"
    operator = await make_manager("operator")
    ok = await client.get("/api/v1/me", headers=await bearer(pool, operator))
    assert ok.status == 200
    me = await ok.json()
    assert me["id"] == operator.id and me["role"] == "operator"


async def test_phone_lookup_in_three_formats(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    auth = await bearer(pool, await make_manager("supervisor"))
    customer = await create(client, auth, name="Анна", phones=["+79161234567"])
    await create(client, auth, name="Other", phones=["+79031112233"])
    for raw in ("8 (916) 123-45-67", "79161234567", "+7 916 123-45-67"):
        response = await client.get("/api/v1/customers", params={"phone": raw}, headers=auth)
        assert response.status == 200
        page = await response.json()
        assert [c["id"] for c in page["items"]] == [customer["id"]], raw
        assert page["items"][0]["phones"] == [{"e164": "+79161234567", "label": ""}]
    bad = await client.get("/api/v1/customers", params={"phone": "call me maybe"}, headers=auth)
    assert bad.status == 422
    assert (await bad.json())["error"] == "invalid-phone"


async def test_create_get_patch(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    auth = await bearer(pool, operator)
    response = await client.post("/api/v1/customers", headers=auth, json={
        "name": "  ООО   Ромашка ", "kind": "company", "phones": ["8 916 123 45 67"], "tags": ["Opt", "opt"],
        "responsible_manager_id": operator.id, "email": "shop@example.com"})
    assert response.status == 201
    created = await response.json()
    assert response.headers["Location"] == f"/api/v1/customers/{created['id']}"
    assert created["name"] == "ООО Ромашка" and created["kind"] == "company" and created["tags"] == ["opt"]
    assert created["responsible_manager_name"] == operator.display_name
    assert created["created_at"].endswith("+00:00")

    fetched = await (await client.get(response.headers["Location"], headers=auth)).json()
    assert fetched == created

    patched = await client.patch(response.headers["Location"], headers=auth,
                                 json={"vip": True, "phones": ["+79161234567", "+7 903 111-22-33"]})
    assert patched.status == 200
    body = await patched.json()
    assert body["vip"] is True and body["name"] == "ООО Ромашка" and body["email"] == "shop@example.com"
    assert [p["e164"] for p in body["phones"]] == ["+79161234567", "+79031112233"]
    cleared = await (await client.patch(response.headers["Location"], headers=auth,
                                        json={"responsible_manager_id": None})).json()
    assert cleared["responsible_manager_id"] is None and cleared["vip"] is True


async def test_html_is_text_but_control_characters_are_stripped(client: Client, pool: Pool,
                                                                 make_manager: MakeManager) -> None:
    auth = await bearer(pool, await make_manager("admin"))
    created = await create(client, auth, name="<script>alert(1)</script>\x00\x1b[31m Bob\u202e & <b>Co</b>")
    assert created["name"] == "<script>alert(1)</script>[31m Bob & <b>Co</b>"
    response = await client.get(f"/api/v1/customers/{created['id']}", headers=auth)
    assert response.content_type == "application/json"
    assert (await response.json())["name"] == created["name"]


async def test_oversized_fields_are_refused_and_nothing_is_stored(client: Client, pool: Pool,
                                                                  make_manager: MakeManager) -> None:
    auth = await bearer(pool, await make_manager("admin"))
    for fields in ({"name": "x" * 201}, {"name": "ok", "email": "e" * 201}, {"name": "ok", "region": "r" * 101},
                   {"name": "ok", "tags": [f"t{i}" for i in range(21)]}, {"name": "ok", "tags": ["t" * 41]},
                   {"name": "ok", "phones": ["1" * 65]}, {"name": "ok", "phones": ["+7916123456"] * 11}):
        response = await client.post("/api/v1/customers", json=fields, headers=auth)
        assert response.status == 422, fields
        assert (await response.json())["error"] in ("invalid-input", "invalid-phone")
    page = await (await client.get("/api/v1/customers", headers=auth)).json()
    assert page == {"items": [], "has_more": False, "limit": 20, "offset": 0}


async def test_request_shape_errors(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    auth = await bearer(pool, await make_manager("admin"))
    json_headers = {**auth, "Content-Type": "application/json"}

    async def post(data: str | bytes | io.BytesIO,
                   headers: dict[str, str] = json_headers) -> tuple[int, dict[str, Any]]:
        response = await client.post("/api/v1/customers", data=data, headers=headers)
        return response.status, await response.json()

    status, body = await post('{"name": "Bob",')
    assert (status, body["error"]) == (400, "invalid-json")
    assert (await post(b"\xff\xfe"))[1]["error"] == "invalid-json"
    assert (await post('{"name": NaN}'))[1]["error"] == "invalid-json"
    assert (await post("[" * 100_000))[1]["error"] == "invalid-json"
    assert await post('["Bob"]') == (422, {"error": "invalid-input", "message": "the body must be a JSON object"})
    status, body = await post('{"name": 42}')
    assert (status, body["error"]) == (422, "invalid-input") and "name" in body["message"]
    status, body = await post('{"name": "Bob", "vip": "yes"}')
    assert (status, body["error"]) == (422, "invalid-input") and "vip" in body["message"]
    status, body = await post('{"name": "Bob", "phones": "+79161234567"}')
    assert (status, body["error"]) == (422, "invalid-input") and "phones" in body["message"]
    status, body = await post('{"name": "Bob", "kind": "robot"}')
    assert (status, body["error"]) == (422, "invalid-input") and "kind" in body["message"]
    status, body = await post('{"name": "Bob", "nmae": "typo"}')
    assert (status, body["error"]) == (422, "unknown-field") and "nmae" in body["message"]
    status, body = await post("name=Bob", {**auth, "Content-Type": "application/x-www-form-urlencoded"})
    assert (status, body["error"]) == (415, "unsupported-media-type")
    status, body = await post('{"name": "' + "x" * 300_000 + '"}')
    assert (status, body["error"]) == (413, "payload-too-large")
    status, body = await post(io.BytesIO(b'{"name": "' + b"x" * 2_000_000 + b'"}'))
    assert (status, body["error"]) == (413, "payload-too-large")
    page = await (await client.get("/api/v1/customers", headers=auth)).json()
    assert page["items"] == []


async def test_phone_owned_by_another_customer_is_409(client: Client, pool: Pool,
                                                       make_manager: MakeManager) -> None:
    auth = await bearer(pool, await make_manager("admin"))
    await create(client, auth, name="First", phones=["+79161234567"])
    response = await client.post("/api/v1/customers", json={"name": "Second", "phones": ["89161234567"]},
                                 headers=auth)
    assert response.status == 409 and (await response.json())["error"] == "phone-taken"
    second = await create(client, auth, name="Second", phones=["+79031112233"])
    response = await client.patch(f"/api/v1/customers/{second['id']}", headers=auth,
                                  json={"name": "Renamed", "phones": ["+79031112233", "+79161234567"]})
    assert response.status == 409 and (await response.json())["error"] == "phone-taken"
    unchanged = await (await client.get(f"/api/v1/customers/{second['id']}", headers=auth)).json()
    assert unchanged["name"] == "Second" and [p["e164"] for p in unchanged["phones"]] == ["+79031112233"]


async def test_operator_sees_own_and_unassigned_customers_only(client: Client, pool: Pool,
                                                               make_manager: MakeManager) -> None:
    alice, bob, head = await make_manager("operator"), await make_manager("operator"), await make_manager("supervisor")
    alice_auth, head_auth = await bearer(pool, alice), await bearer(pool, head)
    mine = await create(client, head_auth, name="Alice's", responsible_manager_id=alice.id)
    theirs = await create(client, head_auth, name="Bob's", responsible_manager_id=bob.id, phones=["+79161234567"])
    free = await create(client, head_auth, name="Nobody's")

    response = await client.get(f"/api/v1/customers/{theirs['id']}", headers=alice_auth)
    assert response.status == 403 and (await response.json())["error"] == "access-denied"
    denied_patch = await client.patch(f"/api/v1/customers/{theirs['id']}", json={"name": "Mine now"},
                                      headers=alice_auth)
    assert denied_patch.status == 403
    assert (await client.get(f"/api/v1/customers/{free['id']}", headers=alice_auth)).status == 200
    listed = await (await client.get("/api/v1/customers", headers=alice_auth)).json()
    assert {c["id"] for c in listed["items"]} == {mine["id"], free["id"]}
    by_phone = await (await client.get("/api/v1/customers", params={"phone": "+79161234567"},
                                       headers=alice_auth)).json()
    assert by_phone["items"] == []
    everyone = await (await client.get("/api/v1/customers", headers=head_auth)).json()
    assert len(everyone["items"]) == 3
    missing = await client.get("/api/v1/customers/99999999999999999999999", headers=head_auth)
    assert missing.status == 404 and (await missing.json())["error"] == "not-found"


async def test_search_and_paging(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    auth = await bearer(pool, await make_manager("admin"))
    ids = [(await create(client, auth, name=f"Иван Петров {n}"))["id"] for n in range(3)]
    await create(client, auth, name="Мария")
    first = await (await client.get("/api/v1/customers", params={"q": "петров", "limit": "2"}, headers=auth)).json()
    assert [c["id"] for c in first["items"]] == ids[::-1][:2] and first["has_more"] is True
    second = await (await client.get("/api/v1/customers", params={"q": "петров", "limit": "2", "offset": "2"},
                                     headers=auth)).json()
    assert [c["id"] for c in second["items"]] == ids[:1] and second["has_more"] is False
    assert second["limit"] == 2 and second["offset"] == 2
    for params in ({"limit": "0"}, {"limit": "101"}, {"offset": "-1"}, {"limit": "ten"}, {"q": "a", "phone": "1"}):
        response = await client.get("/api/v1/customers", params=params, headers=auth)
        assert response.status == 422, params
        assert (await response.json())["error"] == "invalid-input"


async def test_session_cookie_needs_csrf_header_for_writes(client: Client, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    csrf = await login(client, operator)
    assert (await client.get("/api/v1/me")).status == 200
    refused = await client.post("/api/v1/customers", json={"name": "Via panel"})
    assert refused.status == 403 and (await refused.json())["error"] == "forbidden"
    accepted = await client.post("/api/v1/customers", json={"name": "Via panel"}, headers={"X-CSRF-Token": csrf})
    assert accepted.status == 201

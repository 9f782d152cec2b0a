"""The call result on the pop: a disposition code, a quick note, a follow-up task; only for people the call involved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import call_results, customers
from crm.call_results import Disposition
from crm.customers import CustomerInput
from crm.database import Pool
from tests.calls_scenarios import inbound_answered, record
from tests.conftest import MakeManager, login

Client = TestClient[web.Request, web.Application]
LID = "1795345255.0"


async def _answered_call(pool: Pool) -> int:
    customer = await customers.create_customer(pool, CustomerInput(name="Иванова Мария", phones=("+79161110001",)))
    await record(pool, inbound_answered(lid=LID, caller="79161110001", ext="101"))
    return customer.id


async def test_the_operator_records_result_note_and_task_in_one_go(client: Client, pool: Pool,
                                                                   make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    customer_id = await _answered_call(pool)
    csrf = await login(client, anna)
    due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = await client.post(f"/api/v1/calls/{LID}/result", headers={"X-CSRF-Token": csrf}, json={
        "disposition": "consultation", "note": "Спрашивала про доставку в Тверь",
        "task": {"title": "Прислать сроки доставки", "due_at": due}})
    assert response.status == 200, await response.text()
    body = await response.json()
    call = await pool.fetchrow("SELECT id, disposition, disposition_by FROM calls WHERE linkedid = $1", LID)
    assert call is not None and (call["disposition"], call["disposition_by"]) == ("consultation", anna.id)
    note = await pool.fetchrow("SELECT customer_id, call_id, body FROM notes WHERE id = $1", body["note_id"])
    assert note is not None and (note["customer_id"], note["call_id"]) == (customer_id, call["id"])
    task = await pool.fetchrow("SELECT * FROM tasks WHERE id = $1", body["task_id"])
    assert task is not None and (task["kind"], task["assignee_id"], task["call_id"], task["customer_id"]) == (
        "callback", anna.id, call["id"], customer_id)
    calls = await (await client.get("/api/v1/calls")).json()
    assert calls["items"][0]["disposition"] == "consultation"


async def test_only_people_the_call_involved_and_supervisors_may(client: Client, pool: Pool,
                                                                 make_manager: MakeManager) -> None:
    await make_manager("operator", extensions=("101",))
    boris = await make_manager("operator", extensions=("102",))
    head = await make_manager("supervisor")
    await _answered_call(pool)
    csrf = await login(client, boris)
    refused = await client.post(f"/api/v1/calls/{LID}/result", headers={"X-CSRF-Token": csrf},
                                json={"disposition": "consultation"})
    assert refused.status == 403
    csrf = await login(client, head)
    accepted = await client.post(f"/api/v1/calls/{LID}/result", headers={"X-CSRF-Token": csrf},
                                 json={"disposition": "complaint"})
    assert accepted.status == 200
    missing = await client.post("/api/v1/calls/nope.1/result", headers={"X-CSRF-Token": csrf},
                                json={"disposition": "complaint"})
    assert missing.status == 404


async def test_bad_results_are_refused_and_change_nothing(client: Client, pool: Pool, make_manager: MakeManager
                                                          ) -> None:
    anna = await make_manager("operator", extensions=("101",))
    await _answered_call(pool)
    await call_results.save_disposition(pool, Disposition("old_code", "старое", "old", 9, active=False))
    csrf = await login(client, anna)
    for body in ({}, {"disposition": "no_such"}, {"disposition": "old_code"}, {"note": "   "},
                 {"task": {"title": ""}}, {"task": {"title": "x", "assignee_id": 1}}, {"disposition": "Bad Code"}):
        response = await client.post(f"/api/v1/calls/{LID}/result", headers={"X-CSRF-Token": csrf}, json=body)
        assert response.status == 422, (body, await response.text())
    assert await pool.fetchval("SELECT disposition FROM calls WHERE linkedid = $1", LID) is None
    assert await pool.fetchval("SELECT count(*) FROM tasks") == 0


async def test_the_codes_are_listed_in_the_admins_order(client: Client, pool: Pool, make_manager: MakeManager
                                                        ) -> None:
    await call_results.save_disposition(pool, Disposition("vip_request", "просьба VIP", "VIP request", 0, True))
    await login(client, await make_manager("operator"))
    codes = [d["code"] for d in (await (await client.get("/api/v1/call-dispositions")).json())["items"]]
    assert codes[:4] == ["vip_request", "order_placed", "consultation", "call_back"]


async def test_admins_edit_the_codes_on_their_page(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    csrf = await login(client, await make_manager("operator"))
    assert (await client.get("/settings/call-results")).status == 403
    csrf = await login(client, await make_manager("admin"))
    page = await client.get("/settings/call-results")
    assert page.status == 200 and "консультация" in await page.text()
    added = await client.post("/settings/call-results", allow_redirects=False, data={
        "_csrf": csrf, "code": "delivery", "title_ru": "доставка", "title_en": "delivery", "position": "7"})
    assert added.status == 303
    switched_off = await client.post("/settings/call-results", allow_redirects=False, data={
        "_csrf": csrf, "code": "complaint", "title_ru": "жалоба", "title_en": "complaint", "position": "5",
        "active_present": "1"})
    assert switched_off.status == 303
    bad = await client.post("/settings/call-results", data={
        "_csrf": csrf, "code": "Bad Code!", "title_ru": "x", "title_en": "x", "position": "1"})
    assert bad.status == 422
    offered = [d.code for d in await call_results.list_dispositions(pool)]
    assert "delivery" in offered and "complaint" not in offered

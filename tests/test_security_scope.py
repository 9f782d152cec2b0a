"""Scoping and error hygiene (issue 9): unassigned tasks follow their customer's scope, a duplicate phone
does not reveal another manager's customer, and far-off dates are a clear 4xx, never a 500."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import customers, managers, tasks
from crm.customers import CustomerInput
from crm.database import Pool
from crm.errors import AccessDenied, InvalidInput
from crm.tasks import TaskFilter, TaskInput
from tests.conftest import MakeManager, login

Client = TestClient[web.Request, web.Application]


async def _bearer(pool: Pool, manager_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {await managers.create_api_token(pool, manager_id)}"}


async def test_unassigned_tasks_follow_the_customers_scope(client: Client, pool: Pool,
                                                           make_manager: MakeManager) -> None:
    anna, boris = await make_manager("operator"), await make_manager("operator")
    borises = await customers.create_customer(pool, CustomerInput(name="Клиент Бориса Секретный",
                                                                  responsible_manager_id=boris.id))
    nobodys = await customers.create_customer(pool, CustomerInput(name="Ничей клиент"))
    hidden = await tasks.create_task(pool, TaskInput(kind="callback", title="Перезвонить",
                                                     customer_id=borises.id), None)
    shared = await tasks.create_task(pool, TaskInput(kind="callback", title="Перезвонить",
                                                     customer_id=nobodys.id), None)
    general = await tasks.create_task(pool, TaskInput(kind="custom", title="Общее"), None)
    seen = {t.id for t in (await tasks.list_tasks(pool, anna, TaskFilter())).items}
    assert seen == {shared.id, general.id}
    assert hidden.id in {t.id for t in (await tasks.list_tasks(pool, boris, TaskFilter())).items}
    with pytest.raises(AccessDenied):
        await tasks.get_task(pool, hidden.id, anna)
    with pytest.raises(AccessDenied):
        await tasks.close_task(pool, hidden.id, anna)
    # Over HTTP: neither the page nor the API shows the customer's name, and closing is refused.
    csrf = await login(client, anna)
    assert "Секретный" not in await (await client.get("/tasks")).text()
    api = await client.get("/api/v1/tasks", headers=await _bearer(pool, anna.id))
    assert "Секретный" not in await api.text()
    refused = await client.post(f"/tasks/{hidden.id}/complete", data={"_csrf": csrf}, allow_redirects=False)
    assert refused.status == 403
    assert (await tasks.get_task(pool, hidden.id)).status == "open"


async def test_a_duplicate_phone_does_not_reveal_the_other_customer(client: Client, pool: Pool,
                                                                    make_manager: MakeManager) -> None:
    anna, boris = await make_manager("operator"), await make_manager("operator")
    secret = await customers.create_customer(pool, CustomerInput(name="Клиент Бориса", phones=("+79161234567",),
                                                                 responsible_manager_id=boris.id))
    response = await client.post("/api/v1/customers", json={"name": "Новый", "phones": ["8 916 123-45-67"]},
                                 headers=await _bearer(pool, anna.id))
    body = await response.json()
    assert response.status == 409 and body["error"] == "phone-taken"
    assert "another customer" in body["message"] and secret.name not in body["message"]
    assert re.search(r"customer\s*#?\d", body["message"]) is None  # no id of the other customer


@pytest.mark.parametrize("query", ["since=0001-01-01", "since=0001-01-01T00:00:00%2B05:00", "to=9999-12-31",
                                   "from=0001-01-01", "since=9999-12-31T23:59:59-05:00"])
async def test_far_off_dates_in_call_filters_are_422(client: Client, pool: Pool, make_manager: MakeManager,
                                                      query: str) -> None:
    head = await make_manager("supervisor")
    response = await client.get(f"/api/v1/calls?{query}", headers=await _bearer(pool, head.id))
    assert response.status == 422, (query, response.status)
    await login(client, head)
    page = await client.get(f"/calls?{query}")
    assert page.status < 500, (query, page.status)


@pytest.mark.parametrize("due", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
async def test_far_off_due_dates_are_422(client: Client, pool: Pool, make_manager: MakeManager, due: str) -> None:
    operator = await make_manager("operator")
    response = await client.post("/api/v1/tasks", json={"kind": "custom", "title": "Т", "due_at": due},
                                 headers=await _bearer(pool, operator.id))
    assert response.status == 422
    customer = await customers.create_customer(pool, CustomerInput(name="К", responsible_manager_id=operator.id))
    csrf = await login(client, operator)
    form = await client.post(f"/customers/{customer.id}/tasks", allow_redirects=False, data={
        "_csrf": csrf, "kind": "custom", "title": "Т", "due_at": due[:16]})
    assert 400 <= form.status < 500, form.status


async def test_the_crm_refuses_far_off_due_dates(pool: Pool) -> None:
    with pytest.raises(InvalidInput):
        await tasks.create_task(pool, TaskInput(kind="custom", title="Т", due_at=datetime(1, 1, 2, tzinfo=UTC)), None)

"""Huge numbers typed into any panel form are a clear 4xx, never a 500 (issue 9): ids above PostgreSQL's
bigint, counts and positions beyond what the CRM allows."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import customers
from crm.customers import CustomerInput
from crm.database import Pool
from tests.conftest import MakeManager, login

Client = TestClient[web.Request, web.Application]
HUGE = "99999999999999999999"


@pytest.mark.parametrize(("path", "fields"), [
    ("/customers/new", {"name": "Клиент", "responsible_manager_id": HUGE}),
    ("/customers/{customer}/tasks", {"kind": "custom", "title": "Т", "assignee_id": HUGE}),
    ("/managers/new", {"login": "newbie", "display_name": "Новичок", "role": "operator", "password": "long password 1",
                       "seniority": HUGE, "max_concurrent_calls": "1"}),
    ("/routing/rules/new", {"group_id": HUGE, "position": "10"}),
    ("/routing/rules/new", {"group_id": "1", "position": HUGE}),
    ("/routing/groups/new", {"name": "Г", "ring_timeout_s": HUGE}),
    ("/routing/groups/new", {"name": "Г", "members": "9" * 5000}),
    ("/routing/caps", {f"cap_{HUGE}": "1"}),
    ("/routing/caps", {"cap_1": HUGE}),
])
async def test_huge_numbers_in_forms_are_4xx(client: Client, pool: Pool, make_manager: MakeManager, path: str,
                                             fields: dict[str, str]) -> None:
    admin = await make_manager("admin")
    customer = await customers.create_customer(pool, CustomerInput(name="К", responsible_manager_id=admin.id))
    csrf = await login(client, admin)
    response = await client.post(path.format(customer=customer.id), data={"_csrf": csrf, **fields},
                                 allow_redirects=False)
    assert 400 <= response.status < 500, (path, response.status, (await response.text())[:300])


async def test_a_huge_assignee_filter_is_not_a_500(client: Client, make_manager: MakeManager) -> None:
    await login(client, await make_manager("supervisor"))
    response = await client.get(f"/tasks?assignee={HUGE}", allow_redirects=False)
    assert response.status < 500

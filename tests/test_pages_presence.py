"""An operator sets their own presence in the top bar; routing rings only managers who are online."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import managers
from crm.database import Pool
from tests.conftest import MakeManager, login

Client = TestClient[web.Request, web.Application]


async def test_operator_goes_online_and_away(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    assert operator.presence == "offline"
    csrf = await login(client, operator)
    page = await (await client.get("/customers")).text()
    assert 'action="/presence"' in page and '<option value="offline" selected>' in page

    response = await client.post("/presence", data={"presence": "online", "next": "/tasks", "_csrf": csrf},
                                  allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/tasks"
    assert (await managers.get_manager(pool, operator.id)).presence == "online"
    assert '<option value="online" selected>' in await (await client.get("/customers")).text()

    await client.post("/presence", data={"presence": "away", "_csrf": csrf}, allow_redirects=False)
    assert (await managers.get_manager(pool, operator.id)).presence == "away"


async def test_bad_presence_or_missing_csrf_changes_nothing(client: Client, pool: Pool,
                                                           make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    csrf = await login(client, operator)
    bad = await client.post("/presence", data={"presence": "<b>busy</b>", "_csrf": csrf}, allow_redirects=False)
    assert bad.status == 422
    forged = await client.post("/presence", data={"presence": "online"}, allow_redirects=False)
    assert forged.status == 403
    assert (await managers.get_manager(pool, operator.id)).presence == "offline"

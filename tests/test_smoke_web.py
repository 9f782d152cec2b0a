"""The service answers over real HTTP: health, login, role-protected pages."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import MakeManager, csrf_from, login

Client = TestClient[web.Request, web.Application]


async def test_healthz_reports_database(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok" and body["db"] == "ok"


async def test_login_with_right_password_then_logout(client: Client, make_manager: MakeManager) -> None:
    manager = await make_manager("operator")
    csrf = await login(client, manager)
    response = await client.post("/logout", data={"_csrf": csrf}, allow_redirects=False)
    assert response.status == 303
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_wrong_password_is_refused_and_throttled(client: Client, make_manager: MakeManager) -> None:
    manager = await make_manager("operator")
    token = await csrf_from(client)
    statuses = []
    for _ in range(4):
        response = await client.post("/login", data={"login": manager.login, "password": "wrong-password",
                                                     "_csrf": token}, allow_redirects=False)
        statuses.append(response.status)
    assert statuses == [401, 401, 401, 429]


async def test_login_without_csrf_is_forbidden(client: Client, make_manager: MakeManager) -> None:
    manager = await make_manager("operator")
    await client.get("/login")
    response = await client.post("/login", data={"login": manager.login, "password": "x"}, allow_redirects=False)
    assert response.status == 403

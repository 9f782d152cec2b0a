"""The web layer's hardening (issue 9): security headers, exact public paths, the login redirect keeping
the whole `next`, out-of-range ids and offsets as clear 4xx, and API tokens that expire and can be revoked."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from crm import managers, tokens
from crm.database import Pool
from tests.conftest import PASSWORD, MakeManager, login
from web.app import create_app
from web.config import Settings

Client = TestClient[web.Request, web.Application]


async def test_pages_carry_security_headers(client: Client, make_manager: MakeManager) -> None:
    await login(client, await make_manager("operator"))
    page = await client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in page.headers  # plain HTTP: HSTS would only mislead
    html = await page.text()
    assert "onchange=" not in html and "<script>" not in html and 'style="' not in html
    assert '<script src="/static/app.js" defer></script>' in html
    assert (await client.get("/static/app.js")).status == 200
    for response in (page, await client.get("/healthz"), await client.get("/login")):
        assert "aiohttp" not in response.headers.get("Server", "") and "Python" not in response.headers["Server"]


async def test_hsts_behind_https(settings: Settings, pool: Pool) -> None:
    secure = replace(settings, web=replace(settings.web, cookie_secure=True))
    async with TestClient(TestServer(create_app(secure, pool), host="127.0.0.1")) as client:
        response = await client.get("/login")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize("path", ["/loginx", "/healthzfoo", "/login/../customers", "/api/v1/openapi.jsonx"])
async def test_public_paths_match_exactly(client: Client, path: str) -> None:
    response = await client.get(path, allow_redirects=False)
    assert response.status in (303, 401), response.status  # to the login page, never served
    if response.status == 303:
        assert response.headers["Location"].startswith("/login?next=")


async def test_login_redirect_keeps_the_whole_next(client: Client, make_manager: MakeManager) -> None:
    response = await client.get("/calls?a=1&b=2", allow_redirects=False)
    assert response.status == 303
    location = urlsplit(response.headers["Location"])
    assert parse_qs(location.query)["next"] == ["/calls?a=1&b=2"]
    # ...and the login form carries it through to the redirect after logging in.
    manager = await make_manager("operator")
    html = await (await client.get(response.headers["Location"])).text()
    assert 'name="next" value="/calls?a=1&amp;b=2"' in html
    csrf = html.split('name="_csrf" value="', 1)[1].split('"', 1)[0]
    done = await client.post("/login", data={"login": manager.login, "password": PASSWORD, "_csrf": csrf,
                                             "next": "/calls?a=1&b=2"}, allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == "/calls?a=1&b=2"


@pytest.mark.parametrize("path", [
    "/customers/9223372036854775808", "/customers/99999999999999999999999", "/orders/9223372036854775808",
    "/managers/9223372036854775808/edit", "/customers?q=a&offset=99999999999999999999",
    "/calls?offset=10000000000000",
])
async def test_out_of_range_numbers_are_clear_4xx(client: Client, make_manager: MakeManager, path: str) -> None:
    await login(client, await make_manager("admin"))
    response = await client.get(path, allow_redirects=False)
    assert 400 <= response.status < 500, (path, response.status)


# ---- API tokens -------------------------------------------------------------------------------------------------

async def _api_status(client: Client, token: str) -> int:
    response = await client.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"})
    await response.read()
    return response.status


async def test_tokens_expire_and_can_be_revoked(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    owner = await make_manager("operator")
    token = await managers.create_api_token(pool, owner.id, "shop site")
    assert await _api_status(client, token) == 200
    (listed,) = await tokens.list_tokens(pool, owner.id)
    assert listed.label == "shop site" and listed.last_used_at is not None and listed.usable
    await tokens.revoke_token(pool, listed.id, owner)
    assert await _api_status(client, token) == 401
    expired = await managers.create_api_token(pool, owner.id, "old", expires_at=datetime.now(UTC) - timedelta(1))
    assert await _api_status(client, expired) == 401
    assert [t.usable for t in await tokens.list_tokens(pool, owner.id)] == [False, False]


async def test_the_security_page_lists_and_revokes_own_tokens(client: Client, pool: Pool,
                                                             make_manager: MakeManager) -> None:
    owner, other = await make_manager("operator"), await make_manager("operator")
    mine = await managers.create_api_token(pool, owner.id, "mine-label")
    await managers.create_api_token(pool, other.id, "other-label")
    csrf = await login(client, owner)
    html = await (await client.get("/account/security")).text()
    assert "mine-label" in html and "other-label" not in html and mine not in html
    created = await client.post("/account/tokens", data={"_csrf": csrf, "label": "cli", "expires_days": "30"})
    assert created.status == 200 and "pzv_" in await created.text()
    others = await tokens.list_tokens(pool, other.id)
    refused = await client.post(f"/account/tokens/{others[0].id}/revoke", data={"_csrf": csrf},
                                allow_redirects=False)
    assert refused.status == 403
    own = [t for t in await tokens.list_tokens(pool, owner.id) if t.label == "mine-label"]
    done = await client.post(f"/account/tokens/{own[0].id}/revoke", data={"_csrf": csrf}, allow_redirects=False)
    assert done.status == 303 and await _api_status(client, mine) == 401


async def test_an_admin_sees_and_revokes_everyones_tokens(client: Client, pool: Pool,
                                                          make_manager: MakeManager) -> None:
    admin, operator = await make_manager("admin"), await make_manager("operator")
    token = await managers.create_api_token(pool, operator.id, "operator-label")
    csrf = await login(client, admin)
    assert "operator-label" in await (await client.get("/account/security")).text()
    (listed,) = await tokens.list_tokens(pool, operator.id)
    response = await client.post(f"/account/tokens/{listed.id}/revoke", data={"_csrf": csrf}, allow_redirects=False)
    assert response.status == 303 and await _api_status(client, token) == 401


# ---- slow clients -----------------------------------------------------------------------------------------------

async def _slow_server(settings: Settings, pool: Pool) -> TestServer:
    quick = replace(settings, web=replace(settings.web, header_timeout_s=0.5, body_timeout_s=0.5))
    server = TestServer(create_app(quick, pool), host="127.0.0.1")
    await server.start_server()
    return server


async def test_a_client_trickling_its_headers_is_disconnected(settings: Settings, pool: Pool) -> None:
    server = await _slow_server(settings, pool)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /login HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the end of the headers
        await writer.drain()
        async with asyncio.timeout(20):  # generous: the server's limit is 0.5 s
            assert await reader.read() == b""
        writer.close()
    finally:
        await server.close()


async def test_a_client_trickling_its_body_gets_408(settings: Settings, pool: Pool) -> None:
    server = await _slow_server(settings, pool)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 100\r\n\r\nlogin=a")
        await writer.drain()
        async with asyncio.timeout(20):
            status_line = await reader.readline()
        assert status_line.startswith(b"HTTP/1.1 408"), status_line
        writer.close()
    finally:
        await server.close()

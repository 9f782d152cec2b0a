"""Sessions end when they should (issue 9): logout, password change, deactivation, "log out everywhere",
the idle timeout and the absolute lifetime; a copied cookie is worth nothing after any of them."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from crm import managers
from crm.database import Pool
from crm.managers import ManagerInput
from crm.models import Manager
from tests.conftest import MakeManager, login
from web.app import create_app
from web.auth import SESSION_COOKIE
from web.config import Settings

Client = TestClient[web.Request, web.Application]


def cookie_of(client: Client) -> str:
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE].value


async def logged_in_with(client: Client, cookie: str) -> bool:
    """Whether a request carrying exactly this session cookie (as an attacker who copied it) gets the panel."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as other, other.get(
            client.make_url("/"), headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, allow_redirects=False) as response:
        await response.read()
        return response.status == 200


async def test_a_copied_cookie_is_dead_after_logout(client: Client, make_manager: MakeManager) -> None:
    manager = await make_manager("operator")
    csrf = await login(client, manager)
    stolen = cookie_of(client)
    assert await logged_in_with(client, stolen)
    response = await client.post("/logout", data={"_csrf": csrf}, allow_redirects=False)
    assert response.status == 303
    assert not await logged_in_with(client, stolen)


async def test_a_password_change_ends_every_session(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    manager = await make_manager("operator")
    await login(client, manager)
    cookie = cookie_of(client)
    await managers.set_password(pool, manager.id, "a brand new passphrase")
    assert not await logged_in_with(client, cookie)


async def _set_active(pool: Pool, manager: Manager, active: bool) -> None:
    await managers.update_manager(pool, manager.id, ManagerInput(login=manager.login,
                                                                 display_name=manager.display_name, active=active))


async def test_deactivation_ends_sessions_for_good(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    manager = await make_manager("operator")
    await login(client, manager)
    cookie = cookie_of(client)
    await _set_active(pool, manager, False)
    assert not await logged_in_with(client, cookie)
    await _set_active(pool, manager, True)
    assert not await logged_in_with(client, cookie)  # reactivation does not bring the old session back


async def test_log_out_everywhere(settings: Settings, pool: Pool, client: Client, make_manager: MakeManager) -> None:
    manager = await make_manager("operator")
    async with TestClient(TestServer(create_app(settings, pool), host="127.0.0.1")) as laptop:
        await login(laptop, manager)
        csrf = await login(client, manager)
        page = await client.get("/account/security")
        assert "Log out everywhere" in await page.text() or "Выйти везде" in await page.text()
        response = await client.post("/logout/everywhere", data={"_csrf": csrf}, allow_redirects=False)
        assert response.status == 303
        laptop_home = await laptop.get("/", allow_redirects=False)
        assert laptop_home.status == 303 and laptop_home.headers["Location"].startswith("/login")
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_idle_timeout_and_absolute_lifetime(client: Client, pool: Pool, make_manager: MakeManager,
                                                  settings: Settings) -> None:
    manager = await make_manager("operator")
    await login(client, manager)
    idle = cookie_of(client)
    await pool.execute("UPDATE manager_sessions SET last_seen_at = now() - make_interval(secs => $1 + 5)",
                       float(settings.web.session_idle_s))
    assert not await logged_in_with(client, idle)

    await login(client, manager)
    old = cookie_of(client)
    # In use a minute ago, but started longer ago than the absolute lifetime.
    await pool.execute("UPDATE manager_sessions SET last_seen_at = now() - interval '1 minute', "
                       "created_at = now() - make_interval(secs => $1 + 5)", float(settings.web.session_max_age_s))
    assert not await logged_in_with(client, old)


async def test_activity_keeps_a_session_alive(client: Client, pool: Pool, make_manager: MakeManager,
                                              settings: Settings) -> None:
    manager = await make_manager("operator")
    await login(client, manager)
    cookie = cookie_of(client)
    # Last seen just inside the idle timeout: a request now counts as activity and renews it.
    await pool.execute("UPDATE manager_sessions SET last_seen_at = now() - make_interval(secs => $1 - 30)",
                       float(settings.web.session_idle_s))
    assert await logged_in_with(client, cookie)
    renewed = await pool.fetchval("SELECT now() - last_seen_at < interval '1 minute' FROM manager_sessions")
    assert renewed


async def test_expired_sessions_are_purged_at_the_next_login(client: Client, pool: Pool,
                                                             make_manager: MakeManager) -> None:
    manager = await make_manager("operator")
    await login(client, manager)
    await pool.execute("UPDATE manager_sessions SET created_at = now() - interval '30 days', "
                       "last_seen_at = now() - interval '30 days'")
    await login(client, manager)
    assert await pool.fetchval("SELECT count(*) FROM manager_sessions") == 1

"""Login under attack (issue 9): throttling holds under a concurrent burst, Argon2 never stalls the event
loop that also answers FastAGI, lockout needs more than a known login, and failed logins are logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from crm import database, passwords
from crm.database import Pool
from pbx_bridge.agi_server import FALLBACK_ERROR, FALLBACK_TIMEOUT
from pbx_bridge.live_load import LiveLoad
from tests.agi_helpers import agi_server, env_of, exchange
from tests.conftest import PASSWORD, MakeManager, csrf_from
from web.app import create_app
from web.config import Settings
from web.routing_service import CrmRouter
from web.throttle import LoginThrottle, login_buckets

Client = TestClient[web.Request, web.Application]


async def _guess(client: Client, csrf: str, login: str, password: str, **headers: str) -> int:
    response = await client.post("/login", data={"login": login, "password": password, "_csrf": csrf},
                                 allow_redirects=False, headers=headers)
    await response.read()
    return response.status


async def test_a_parallel_burst_of_guesses_is_throttled(client: Client, make_manager: MakeManager) -> None:
    manager = await make_manager("operator")
    csrf = await csrf_from(client)
    statuses = await asyncio.gather(*(_guess(client, csrf, manager.login, f"wrong-guess-{n}") for n in range(30)))
    # The limit is 3 failures (tests' settings): only 3 guesses may reach the password check.
    assert sorted(statuses) == [401] * 3 + [429] * 27
    # ...and the right password, guessed next, is refused too: the burst used up the allowance.
    assert await _guess(client, csrf, manager.login, PASSWORD) == 429


async def test_throttled_answer_says_when_to_retry(client: Client, make_manager: MakeManager) -> None:
    manager = await make_manager("operator")
    csrf = await csrf_from(client)
    for _ in range(3):
        assert await _guess(client, csrf, manager.login, "wrong-password") == 401
    response = await client.post("/login", data={"login": manager.login, "password": "x", "_csrf": csrf},
                                 allow_redirects=False)
    assert response.status == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 300


async def test_guesses_from_elsewhere_do_not_lock_the_owner_out(settings: Settings, pool: Pool,
                                                                make_manager: MakeManager) -> None:
    """Behind a trusted proxy, an attacker's failures count against the attacker's address and login pair,
    not against the real user at another address (who still logs in)."""
    proxied = replace(settings, web=replace(settings.web, trusted_proxies="127.0.0.1"))
    manager = await make_manager("operator")
    async with TestClient(TestServer(create_app(proxied, pool), host="127.0.0.1")) as attacker:
        csrf = await csrf_from(attacker)
        for _ in range(6):
            await _guess(attacker, csrf, manager.login, "wrong-password", **{"X-Forwarded-For": "203.0.113.9"})
        assert await _guess(attacker, csrf, manager.login, "wrong-password",
                            **{"X-Forwarded-For": "203.0.113.9"}) == 429
    async with TestClient(TestServer(create_app(proxied, pool), host="127.0.0.1")) as owner:
        csrf = await csrf_from(owner)
        assert await _guess(owner, csrf, manager.login, PASSWORD, **{"X-Forwarded-For": "198.51.100.7"}) == 303


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(client: Client, make_manager: MakeManager) -> None:
    """Without PEREZVON_TRUSTED_PROXIES a client cannot pick a fresh address per guess with the header."""
    manager = await make_manager("operator")
    csrf = await csrf_from(client)
    statuses = [await _guess(client, csrf, manager.login, "wrong", **{"X-Forwarded-For": f"192.0.2.{n}"})
                for n in range(5)]
    assert statuses == [401, 401, 401, 429, 429]


async def test_failed_logins_are_logged_without_the_password(client: Client, make_manager: MakeManager,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    manager = await make_manager("operator")
    csrf = await csrf_from(client)
    with caplog.at_level(logging.INFO, logger="web.auth"):
        await _guess(client, csrf, manager.login, "s3cret-guess-xyz")
        await _guess(client, csrf, "nobody-here", "another-guess-xyz")
    failed = [r.getMessage() for r in caplog.records if "failed login" in r.getMessage()]
    assert len(failed) == 2
    assert manager.login in failed[0] and "127.0.0.1" in failed[0] and "wrong password" in failed[0]
    assert "nobody-here" in failed[1] and "unknown login" in failed[1]
    assert not any("guess-xyz" in r.getMessage() for r in caplog.records)


# ---- Argon2 off the event loop ----------------------------------------------------------------------------

BURST = 40
#: Generous: a route takes a few ms here; Argon2 on the loop (~0.1 s per login, 40 logins) blows far past it.
DEADLINE_MS = 1000


@pytest.fixture
async def wide_pool(db_dsn: str) -> AsyncIterator[Pool]:
    """Enough connections that many logins reach the password check at once, as in production."""
    db_pool = await database.create_pool(db_dsn, min_size=1, max_size=30)
    yield db_pool
    await db_pool.close()


def _route_env(n: int) -> bytes:
    return env_of([("agi_network", "yes"), ("agi_network_script", "route"), ("agi_channel", f"PJSIP/trunk-{n:08x}"),
                   ("agi_uniqueid", f"1795345255.{n}"), ("agi_callerid", "79161110001"),
                   ("agi_calleridname", "Caller"), ("agi_arg_1", f"1795345255.{n}"), ("agi_arg_2", "74951234501")])


NO_ANSWER = "no_answer"


async def _route(port: int, n: int) -> str:
    """The ROUTE_REASON the router answered for call `n`, or NO_ANSWER when the exchange broke off."""
    try:
        commands = await exchange(port, _route_env(n))
    except (TimeoutError, ConnectionError):
        return NO_ANSWER
    for line in commands:
        if b" ROUTE_REASON " in line:
            return line.decode().split(" ", 3)[3].strip().strip('"')
    return NO_ANSWER


async def test_a_login_burst_does_not_delay_routing(settings: Settings, wide_pool: Pool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown logins cost a full production-strength Argon2 check (the dummy hash): 40 of them at once
    must leave the FastAGI router answering every call within its deadline, never with the fallback."""
    monkeypatch.setattr(passwords, "_DUMMY_HASH", PasswordHasher().hash("production-strength"))
    relaxed = replace(settings, web=replace(settings.web, login_max_failures=1000))
    router = CrmRouter(wide_pool, LiveLoad())
    async with agi_server(router, deadline_ms=DEADLINE_MS, client_timeout_s=30.0) as agi, \
            TestClient(TestServer(create_app(relaxed, wide_pool), host="127.0.0.1")) as client:
        assert await _route(agi.port, 0) not in (FALLBACK_TIMEOUT, FALLBACK_ERROR, NO_ANSWER)
        csrf = await csrf_from(client)
        burst = asyncio.gather(*(_guess(client, csrf, f"ghost{n}", "wrong-password") for n in range(BURST)))
        reasons: list[str] = []
        n = 1
        while not burst.done() or n < 3:
            reasons.append(await _route(agi.port, n))
            n += 1
        assert set(await burst) == {401}
        await router.drain()
    assert len(reasons) >= 2
    assert not {FALLBACK_TIMEOUT, FALLBACK_ERROR, NO_ANSWER} & set(reasons), reasons
    assert agi.stats.fallback_timeout == 0


def test_the_throttle_counts_reservations_and_releases_them() -> None:
    throttle = LoginThrottle(max_failures=2, window_s=60)
    buckets = login_buckets("anna", "192.0.2.1", 2)
    assert throttle.reserve(buckets, 0.0) == 0 and throttle.reserve(buckets, 1.0) == 0
    assert throttle.reserve(buckets, 2.0) == pytest.approx(58.0)  # refused, and not counted
    throttle.release(buckets, 1.0)  # the attempt at 1.0 succeeded
    assert throttle.reserve(buckets, 3.0) == 0
    assert throttle.retry_after(buckets, 61.0) == 0  # the window moved past the first failure
    other_address = login_buckets("anna", "198.51.100.7", 2)
    assert throttle.retry_after(other_address, 4.0) == 0  # the owner elsewhere is not locked out

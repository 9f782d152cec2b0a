"""Two real `perezvon serve` processes on one database, as a user scales out behind a load balancer.

Only one holds the AMI connection (the advisory lock); a pop raised by a call it sees reaches a tab
connected to the other one (LISTEN/NOTIFY); when the holder is killed, the other takes over the AMI
connection by itself, and every call is recorded exactly once.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from playwright.async_api import Browser, expect

from crm import customers, managers
from crm.customers import CustomerInput
from crm.database import Pool
from crm.managers import ManagerInput
from tests.conftest import PASSWORD
from tests.fake_ami_server import FakeAmiServer, capture_after_login
from tests.live_helpers import message_of_type, next_message
from tests.service_process import ServiceProcess, get_json, log_in, poll, start_service
from tests.test_browser import browser as browser  # noqa: F401  (the Chromium fixture)

CAPTURES = Path(__file__).resolve().parent / "fixtures" / "asterisk-22"
SECRET_KEY = "two-instances-share-this-secret-key!!"


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmiServer]:
    async with FakeAmiServer() as server:
        yield server


def _env(db_dsn: str, ami: FakeAmiServer) -> dict[str, str]:
    return {"DATABASE_URL": db_dsn, "PEREZVON_SECRET_KEY": SECRET_KEY, "PEREZVON_AMI_HOST": "127.0.0.1",
            "PEREZVON_AMI_PORT": str(ami.port), "PEREZVON_AMI_USER": ami.username,
            "PEREZVON_AMI_SECRET": ami.secret, "PEREZVON_AMI_RECONNECT_MIN": "0.1", "PEREZVON_LOG_LEVEL": "INFO"}


async def _start(name: str, tmp_path: Path, env: dict[str, str]) -> ServiceProcess:
    return await asyncio.to_thread(start_service, "serve", tmp_path / name, env=env)


async def _ami_state(http: aiohttp.ClientSession, service: ServiceProcess) -> str:
    _, body = await get_json(http, service.url("/healthz"))
    state: str = body.get("ami", "")
    return state


async def _calls(db_dsn: str) -> list[str]:
    conn = await asyncpg.connect(db_dsn)
    try:
        return [r["linkedid"] for r in await conn.fetch("SELECT linkedid FROM calls WHERE outcome IS NOT NULL "
                                                        "ORDER BY linkedid")]
    finally:
        await conn.close()


async def test_the_pop_crosses_instances_and_the_ami_connection_fails_over(
        tmp_path: Path, db_dsn: str, pool: Pool, ami: FakeAmiServer, browser: Browser) -> None:
    await managers.create_manager(pool, ManagerInput(login="anna", display_name="Анна Смирнова", role="operator",
                                                     extensions=("101",)), PASSWORD)
    await customers.create_customer(pool, CustomerInput(name="Иванова Мария", phones=("+79161110001",)))
    env = _env(db_dsn, ami)
    first = await _start("first", tmp_path, env)
    second: ServiceProcess | None = None
    try:
        async with asyncio.timeout(60):
            await ami.wait_for_action("Login")
        second = await _start("second", tmp_path, env)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await poll(lambda: _is(http, second, "standby"))
            assert ami.connections == 1  # the second one never connected
            await log_in(http, second.url("/"), "anna", PASSWORD)
            page = await browser.new_page()  # Anna's browser is on the instance without the AMI connection
            await page.goto(second.url("/login"))
            await page.fill("input[name=login]", "anna")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await expect(page.locator("#live-pops")).to_have_attribute("data-connected", "true")
            async with http.ws_connect(second.url("/live"), origin=second.url("")) as ws:
                assert (await next_message(ws))["type"] == "hello"
                await ami.send(capture_after_login(CAPTURES / "inbound_answered.ami"), session=1)
                await expect(page.locator(".pop .pop-customer")).to_have_text("Иванова Мария", timeout=30_000)
                pop = await message_of_type(ws, "pop", within_s=30)
                assert pop["call"] == "1795345255.0" and pop["customer"]["name"] == "Иванова Мария"
                assert (await message_of_type(ws, "pop.state", within_s=30))["state"] == "in_call"

                first.stop(signal.SIGKILL)  # the holder dies: its database session, and the lock, go with it
                async with asyncio.timeout(60):
                    await ami.wait_for_action("Login", count=2)
                await poll(lambda: _is(http, second, "connected"))
                await ami.send(capture_after_login(CAPTURES / "inbound_answered_operator_hangs_up.ami"), session=2)
                pop = await message_of_type(ws, "pop", within_s=30)
                assert pop["call"] == "1795345264.2"
        await poll(lambda: _both_recorded(db_dsn))
        assert await _calls(db_dsn) == ["1795345255.0", "1795345264.2"]  # each once
    finally:
        for service in (first, second):
            if service is not None and service.process.poll() is None:
                service.stop()


async def _is(http: aiohttp.ClientSession, service: ServiceProcess, state: str) -> bool:
    return await _ami_state(http, service) == state


async def _both_recorded(db_dsn: str) -> bool:
    return len(await _calls(db_dsn)) >= 2

"""Auto-callback: perezvon places the callback itself when the assignee is online and free, through the PBX
simulator's AMI (the click-to-call path); limits, spacing, opening hours; the settings page."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import auto_callback, callbacks, customers, managers
from crm.auto_callback import AutoCallbackSettings, Candidate, choose
from crm.customers import CustomerInput
from crm.database import Pool
from tests.calls_scenarios import no_answer, record
from tests.conftest import MakeManager, csrf_from, login, open_around_the_clock
from tests.live_helpers import SimulatedShop, simulated_shop
from web.auto_callback import AutoCallback
from web.config import Settings

Client = TestClient[web.Request, web.Application]
ON = AutoCallbackSettings(enabled=True, max_attempts=2, spacing_minutes=10)


def _candidate(task_id: int, assignee_id: int, extension: str = "101", did: str = "") -> Candidate:
    return Candidate(task_id, assignee_id, (extension,), did, None)


def test_one_call_per_free_operator_in_opening_hours() -> None:
    found = [_candidate(1, 10, "101"), _candidate(2, 10, "101"), _candidate(3, 11, "102"),
             _candidate(4, 12, "103", did="74950000000"), Candidate(5, 13, (), "", None)]
    chosen = choose(found, phone_free=lambda ext: ext != "102", open_now=lambda did: did != "74950000000")
    assert [c.task_id for c in chosen] == [1]  # 2: the same operator; 3: in a call; 4: closed; 5: no phone


async def _missed_callback(pool: Pool, make_manager: MakeManager) -> tuple[int, int]:
    anna = await make_manager("operator", extensions=("101",))
    await managers.set_presence(pool, anna.id, "online")
    await customers.create_customer(pool, CustomerInput(name="Орлова Вера", phones=("+79161110090",),
                                                        responsible_manager_id=anna.id))
    await record(pool, no_answer(lid="1800000600.1", caller="79161110090"))
    opened = await callbacks.on_missed_call(pool, "1800000600.1")
    assert opened.task_id is not None
    return anna.id, opened.task_id


async def test_candidates_respect_the_setting_presence_limits_and_spacing(pool: Pool, make_manager: MakeManager
                                                                         ) -> None:
    anna_id, task_id = await _missed_callback(pool, make_manager)
    now = datetime.now(UTC)
    assert await auto_callback.candidates(pool, now, AutoCallbackSettings()) == []  # off by default
    [found] = await auto_callback.candidates(pool, now, ON)
    assert (found.task_id, found.assignee_id, found.extensions) == (task_id, anna_id, ("101",))
    await auto_callback.record_attempt(pool, found, linkedid="c2c-1")
    assert await auto_callback.candidates(pool, now, ON) == []  # too soon after the last attempt
    later = now + timedelta(minutes=11)
    assert len(await auto_callback.candidates(pool, later, ON)) == 1
    await auto_callback.record_attempt(pool, found, linkedid="c2c-2")
    assert await auto_callback.candidates(pool, later + timedelta(hours=1), ON) == []  # two attempts: the limit
    await pool.execute("DELETE FROM auto_callback_attempts")
    await managers.set_presence(pool, anna_id, "away")
    assert await auto_callback.candidates(pool, now, ON) == []  # not online: not disturbed


@pytest.fixture
async def shop(settings: Settings, pool: Pool, db_dsn: str) -> AsyncIterator[SimulatedShop]:
    async with simulated_shop(settings, pool, db_dsn) as placed:
        yield placed


async def test_the_callback_is_placed_by_itself_and_closes_the_task(shop: SimulatedShop, pool: Pool,
                                                                    make_manager: MakeManager) -> None:
    await open_around_the_clock(pool)
    _, task_id = await _missed_callback(pool, make_manager)
    await auto_callback.save_settings(pool, ON)
    caller = AutoCallback(pool, shop.telephony, shop.click_to_call)
    assert await caller.sweep(datetime.now(UTC)) == 1
    [attempt] = await pool.fetch("SELECT linkedid, error FROM auto_callback_attempts WHERE task_id = $1", task_id)
    assert attempt["linkedid"].startswith("c2c-") and attempt["error"] == ""
    assert shop.telephony.simulator is not None
    async with asyncio.timeout(30):
        await shop.telephony.simulator.wait_calls()
    await shop.telephony.recorder.drain()
    call = await pool.fetchrow("SELECT outcome, task_id, direction FROM calls WHERE linkedid = $1", attempt["linkedid"])
    assert call is not None and (call["direction"], call["task_id"]) == ("outbound", task_id)
    if call["outcome"] == "answered":
        reached = await callbacks.on_call_ended(pool, attempt["linkedid"])
        assert reached.closed_task_ids == (task_id,)
    assert await caller.sweep(datetime.now(UTC)) == 0  # closed, or attempted a moment ago: nothing more now


async def test_nothing_is_placed_after_hours(shop: SimulatedShop, pool: Pool, make_manager: MakeManager) -> None:
    await pool.execute("UPDATE routing_schedules SET hours = '{}'::jsonb")  # closed every day
    await _missed_callback(pool, make_manager)
    await auto_callback.save_settings(pool, ON)
    assert await AutoCallback(pool, shop.telephony, shop.click_to_call).sweep(datetime.now(UTC)) == 0


async def test_a_supervisor_switches_it_on(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    await login(client, await make_manager("supervisor"))
    csrf = await csrf_from(client, "/settings/callbacks")
    saved = await client.post("/settings/callbacks", allow_redirects=False, data={
        "_csrf": csrf, "deadline_minutes": "15", "short_ring_s": "4", "exclude_short": "1",
        "auto_callback": "1", "auto_max_attempts": "4", "auto_spacing_minutes": "20"})
    assert saved.status == 303, await saved.text()
    assert await auto_callback.load_settings(pool) == AutoCallbackSettings(True, 4, 20)
    assert (await callbacks.load_settings(pool)).deadline_minutes == 15
    bad = await client.post("/settings/callbacks", data={"_csrf": csrf, "deadline_minutes": "0",
                                                         "auto_max_attempts": "4", "auto_spacing_minutes": "20"})
    assert bad.status == 422
    await login(client, await make_manager("operator"))
    assert (await client.get("/settings/callbacks")).status == 403

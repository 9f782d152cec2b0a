"""Click-to-call against the PBX simulator (real AMI on loopback): the API places the call, the operator's
tab follows its progress, and the record is linked to the task it was placed from.

The real Asterisk does the same in the PBX tier (tests/pbx/test_calls_click_to_call.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import customers, tasks
from crm.customers import CustomerInput
from crm.database import Pool
from crm.tasks import TaskInput
from tests.conftest import MakeManager, login
from tests.live_helpers import SimulatedShop, message_of_type, next_message, simulated_shop
from web.click_to_call import ClickToCall
from web.config import Settings
from web.telephony import Telephony

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def placing(settings: Settings, pool: Pool, db_dsn: str) -> AsyncIterator[SimulatedShop]:
    async with simulated_shop(settings, pool, db_dsn) as shop:
        yield shop


async def _customer_with_callback(pool: Pool, manager_id: int) -> tuple[int, int]:
    customer = await customers.create_customer(pool, CustomerInput(
        name="Соколова Ирина", phones=("+79035557788",), responsible_manager_id=manager_id))
    task = await tasks.create_task(pool, TaskInput(kind="callback", title="Перезвонить по заказу",
                                                   customer_id=customer.id, assignee_id=manager_id), None)
    return customer.id, task.id


async def test_a_call_placed_from_a_task_rings_the_operator_then_the_customer_and_is_linked(
        placing: SimulatedShop, pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    customer_id, task_id = await _customer_with_callback(pool, anna.id)
    csrf = await login(placing.client, anna)
    async with placing.client.ws_connect("/live") as ws:
        await next_message(ws)
        response = await placing.client.post("/api/v1/calls/originate", json={"task_id": task_id},
                                             headers={"X-CSRF-Token": csrf})
        assert response.status == 202, await response.text()
        placed = await response.json()
        assert placed["phone"] == "+79035557788" and placed["extension"] == "101"
        pop = await message_of_type(ws, "pop", within_s=30)
        assert (pop["call"], pop["state"]) == (placed["call_id"], "ringing_you")
        assert pop["customer"]["name"] == "Соколова Ирина"
        states = [(await message_of_type(ws, "pop.state", within_s=30))["state"] for _ in range(3)]
        assert states == ["calling_customer", "connected", "ended"]
    await placing.telephony.recorder.drain()
    calls = await (await placing.client.get("/api/v1/calls")).json()
    call = next(c for c in calls["items"] if c["linkedid"] == placed["call_id"])
    assert call["click_to_call"] is True and call["direction"] == "outbound" and call["outcome"] == "answered"
    assert (call["task_id"], call["customer_id"]) == (task_id, customer_id)


async def test_refusals_are_clear_and_place_nothing(placing: SimulatedShop, settings: Settings, pool: Pool,
                                                    make_manager: MakeManager) -> None:
    no_phone = await make_manager("operator")
    csrf = await login(placing.client, no_phone)
    refused = await placing.client.post("/api/v1/calls/originate", json={"phone": "+79035557788"},
                                        headers={"X-CSRF-Token": csrf})
    assert refused.status == 409 and (await refused.json())["error"] == "phone-unreachable"
    anna = await make_manager("operator", extensions=("101",))
    csrf = await login(placing.client, anna)
    bad = await placing.client.post("/api/v1/calls/originate", json={"phone": "not a phone"},
                                    headers={"X-CSRF-Token": csrf})
    assert bad.status == 422 and (await bad.json())["error"] == "invalid-phone"
    nothing = await placing.client.post("/api/v1/calls/originate", json={}, headers={"X-CSRF-Token": csrf})
    assert nothing.status == 422
    unregistered = await make_manager("operator", extensions=("177",))  # no such phone at the PBX
    csrf = await login(placing.client, unregistered)
    gone = await placing.client.post("/api/v1/calls/originate", json={"phone": "+79035557788"},
                                     headers={"X-CSRF-Token": csrf})
    assert gone.status == 409 and "not registered" in (await gone.json())["message"]
    assert await pool.fetchval("SELECT count(*) FROM click_to_call WHERE state = 'queued'") == 0


async def test_without_a_pbx_the_call_is_refused_with_503(client: Client, make_manager: MakeManager) -> None:
    csrf = await login(client, await make_manager("operator", extensions=("101",)))
    refused = await client.post("/api/v1/calls/originate", json={"phone": "+79035557788"},
                                headers={"X-CSRF-Token": csrf})
    assert refused.status == 503 and (await refused.json())["error"] == "pbx-unavailable"


@dataclass
class _Standby:
    """What a standby instance's ClickToCall sees of its telephony: an AMI client it does not lead."""

    standby: bool = True
    ami: Any = object()
    live: Any = None


async def test_an_instance_without_the_ami_connection_hands_the_call_to_the_one_with_it(
        placing: SimulatedShop, pool: Pool, db_dsn: str, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    standby = ClickToCall(pool, cast(Telephony, _Standby()), db_dsn)
    listeners = [asyncio.create_task(placing.click_to_call.run()), asyncio.create_task(standby.run())]
    try:
        async with asyncio.timeout(10):  # both listen before the request is handed over
            await placing.click_to_call.listening.wait()
            await standby.listening.wait()
        placed = await standby.place(anna, "+79035557788")
        async with asyncio.timeout(30):
            await placing.telephony.simulator.wait_calls()  # type: ignore[union-attr]
    finally:
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
    assert await pool.fetchval("SELECT state FROM click_to_call WHERE linkedid = $1", placed.call_id) == "queued"
    await placing.telephony.recorder.drain()
    assert await pool.fetchval("SELECT click_to_call FROM calls WHERE linkedid = $1", placed.call_id) is True


"""The live panel under test: the whole app with its real live parts (PostgreSQL LISTEN/NOTIFY bus,
publisher) and a running call recorder whose facts the publisher announces, as `perezvon serve` wires them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from crm.database import Pool
from pbx_bridge import call_facts as cf
from tests.calls_scenarios import RunningRecorder
from web.app import create_app
from web.call_recorder import CallRecorder
from web.click_to_call import ClickToCall
from web.config import Settings
from web.live.runtime import LiveParts, start_live
from web.telephony import Telephony, start_telephony

Client = TestClient[web.Request, web.Application]


@dataclass
class LivePanel:
    client: Client
    recorder: CallRecorder
    live: LiveParts

    async def feed(self, facts: Sequence[cf.CallFact]) -> None:
        """Hand facts to the recorder as the tracker does; return once written and announced."""
        for fact in facts:
            self.recorder.on_fact(fact)
        await self.recorder.drain()
        assert self.live.publisher is not None
        await self.live.publisher.drain()


@asynccontextmanager
async def live_panel(settings: Settings, pool: Pool, dsn: str) -> AsyncIterator[LivePanel]:
    async with start_live(settings, pool, dsn) as live:
        assert live.publisher is not None
        async with RunningRecorder(pool, after_write=live.publisher.on_written) as recorder:
            app = create_app(settings, pool, None, live)
            client: Client = TestClient(TestServer(app, host="127.0.0.1"))
            await client.start_server()
            try:
                yield LivePanel(client, recorder, live)
            finally:
                await client.close()


async def next_message(ws: aiohttp.ClientWebSocketResponse, within_s: float = 5.0) -> dict[str, Any]:
    """The next JSON message on the socket (pongs skipped); fails after `within_s` seconds."""
    async with asyncio.timeout(within_s):
        while True:
            message = await ws.receive()
            assert message.type is aiohttp.WSMsgType.TEXT, f"socket closed: {message}"
            data: dict[str, Any] = json.loads(message.data)
            if data.get("type") != "pong":
                return data


async def nothing_pending(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Assert the tab got nothing so far: a ping's pong travels the tab's queue behind anything sent to it."""
    await ws.send_str("ping")
    async with asyncio.timeout(5):
        message = await ws.receive()
    assert message.type is aiohttp.WSMsgType.TEXT and json.loads(message.data) == {"type": "pong"}, message


async def message_of_type(ws: aiohttp.ClientWebSocketResponse, kind: str, within_s: float = 5.0) -> dict[str, Any]:
    """The next message of type `kind`, skipping others."""
    async with asyncio.timeout(within_s):
        while (message := await next_message(ws, within_s))["type"] != kind:
            pass
    return message


@dataclass
class SimulatedShop:
    """The whole app with the PBX simulator (real AMI on loopback), live parts and click-to-call."""

    client: Client
    telephony: Telephony
    click_to_call: ClickToCall


@asynccontextmanager
async def simulated_shop(settings: Settings, pool: Pool, dsn: str, *, speed: float = 200,
                         mean_talk_s: float | None = None) -> AsyncIterator[SimulatedShop]:
    """`speed`: simulated seconds per real second (Originate rings, talk); the AMI is connected on entry."""
    sim = replace(settings.simulator, ami_port=0, calls_per_minute=0, speed=speed)
    if mean_talk_s is not None:
        sim = replace(sim, mean_talk_s=mean_talk_s)
    shop = replace(settings, simulator=sim)
    async with start_live(shop, pool, dsn) as live:
        assert live.publisher is not None
        async with start_telephony(shop, pool, simulate=True, after_write=live.publisher.on_written) as telephony:
            assert telephony.ami is not None
            async with asyncio.timeout(10):
                await telephony.ami.wait_status(lambda s: s.state == "connected")
            click_to_call = ClickToCall(pool, telephony, dsn)
            client: Client = TestClient(TestServer(create_app(shop, pool, telephony, live, click_to_call),
                                                   host="127.0.0.1"))
            await client.start_server()
            try:
                yield SimulatedShop(client, telephony, click_to_call)
            finally:
                await client.close()

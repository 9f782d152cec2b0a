"""The live parts of one service instance, started and stopped together (the composition root uses it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from crm.database import Pool
from web.config import Settings
from web.i18n import Catalogues
from web.live.bus import LiveBus, LocalBus, PgBus
from web.live.hub import LiveHub
from web.live.publisher import LivePublisher
from web.pages import money
from web.pages.forms import zone_named

log = logging.getLogger(__name__)

STOP_DRAIN_S = 3.0
LISTEN_READY_S = 10.0


@dataclass
class LiveParts:
    hub: LiveHub
    bus: LiveBus
    publisher: LivePublisher | None


def local_parts() -> LiveParts:
    """A hub with no database channel and no publisher: the web app alone (tests, tools)."""
    hub = LiveHub()
    return LiveParts(hub, LocalBus(hub), None)


@contextlib.asynccontextmanager
async def start_live(settings: Settings, pool: Pool, dsn: str) -> AsyncIterator[LiveParts]:
    """Listen for live messages on the database and publish this instance's call facts, for the block."""
    hub = LiveHub()
    bus = PgBus(dsn, pool, hub)
    publisher = LivePublisher(pool, bus, catalogues=Catalogues.load(), zone=zone_named(settings.crm.timezone),
                              money=money)
    listen = asyncio.create_task(bus.run(), name="live-listen")
    publish = asyncio.create_task(publisher.run(), name="live-publish")
    try:
        try:
            async with asyncio.timeout(LISTEN_READY_S):
                await bus.wait_listening()
        except TimeoutError:
            log.warning("live events: not listening after %.0f s; pops reach this instance's tabs when it is",
                        LISTEN_READY_S)
        yield LiveParts(hub, bus, publisher)
    finally:
        try:
            async with asyncio.timeout(STOP_DRAIN_S):
                await publisher.drain()
        except TimeoutError:
            log.warning("stopping with live messages not yet sent")
        for task in (publish, listen):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

"""How live messages travel between service instances: PostgreSQL LISTEN/NOTIFY.

Only the instance that holds the AMI connection sees calls, but operators' tabs may be connected
to any instance behind the load balancer. Every message is published with `pg_notify` on one
channel; every instance (the publisher included) listens on a dedicated connection and hands
what arrives to its own hub. One path for all, so a single instance behaves exactly as many.

NOTIFY payloads are limited to 8000 bytes: the publisher keeps messages under `MAX_PAYLOAD`
(pop_payload trims the lists), and a message still over it is refused here with a log line
rather than failing inside the server. A lost LISTEN connection (database restart) is
reopened with backoff; tabs catch up from their snapshot when they reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

import asyncpg

from crm import database
from crm.database import Pool
from web.live.hub import Audience, LiveHub

log = logging.getLogger(__name__)

CHANNEL = "perezvon_live"
MAX_PAYLOAD = 7900
RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 10.0


class LiveBus(Protocol):
    async def publish(self, audience: Audience, message: Mapping[str, Any]) -> None: ...


def encode(audience: Audience, message: Mapping[str, Any]) -> str:
    return json.dumps({"to": audience.to_json(), "message": message}, ensure_ascii=False, separators=(",", ":"))


def decode(payload: str) -> tuple[Audience, dict[str, Any]] | None:
    """The audience and message of a NOTIFY payload; None for anything else on the channel."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("to"), dict) or not isinstance(data.get("message"), dict):
        return None
    return Audience.from_json(data["to"]), data["message"]


class LocalBus:
    """One process, no database channel: tests of the web app alone, and tools."""

    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub

    async def publish(self, audience: Audience, message: Mapping[str, Any]) -> None:
        self.hub.deliver(audience, message)


class PgBus:
    """Publish through the pool; listen on a connection of its own (pooled ones never LISTEN)."""

    def __init__(self, dsn: str, pool: Pool, hub: LiveHub) -> None:
        self._dsn = dsn
        self._pool = pool
        self.hub = hub
        self._listening = asyncio.Event()
        self.published = 0
        self.refused = 0

    async def publish(self, audience: Audience, message: Mapping[str, Any]) -> None:
        payload = encode(audience, message)
        if len(payload.encode()) > MAX_PAYLOAD:
            self.refused += 1
            log.error("live message %s too large for NOTIFY (%d bytes): not sent", message.get("type"), len(payload))
            return
        await self._pool.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
        self.published += 1

    async def wait_listening(self) -> None:
        await self._listening.wait()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting with backoff when the connection drops."""
        delay = RECONNECT_MIN_S
        while True:
            try:
                await self._listen_once()
                delay = RECONNECT_MIN_S
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("live LISTEN connection failed (%r); again in %.1f s", exc, delay)
            self._listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    async def _listen_once(self) -> None:
        conn = await database.connect(self._dsn)
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_lost(_: object) -> None:
            if not lost.done():
                lost.set_result(None)

        try:
            conn.add_termination_listener(on_lost)
            await conn.add_listener(CHANNEL, self._on_notify)
            self._listening.set()
            log.info("live events: listening on %s", CHANNEL)
            await lost
            log.warning("live LISTEN connection lost")
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        decoded = decode(payload) if isinstance(payload, str) else None
        if decoded is None:
            log.warning("ignored a malformed live message on %s", CHANNEL)
            return
        self.hub.deliver(*decoded)

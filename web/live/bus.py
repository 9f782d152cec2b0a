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
import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from crm.database import Pool
from web.live.hub import Audience, LiveHub
from web.pg_listen import listen_forever

log = logging.getLogger(__name__)

CHANNEL = "perezvon_live"
MAX_PAYLOAD = 7900


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
        await listen_forever(self._dsn, {CHANNEL: self._on_notify}, ready=self._listening)

    def _on_notify(self, payload: str) -> None:
        decoded = decode(payload)
        if decoded is None:
            log.warning("ignored a malformed live message on %s", CHANNEL)
            return
        self.hub.deliver(*decoded)

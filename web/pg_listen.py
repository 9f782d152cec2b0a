"""LISTEN on PostgreSQL channels for as long as the service runs, on a connection of its own.

Pooled connections never LISTEN (their session state is not reset between users), so each
listener holds one dedicated connection, reopened with backoff when it drops (a database restart,
a network cut). Handlers are plain callbacks called on the event loop with the payload text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

import asyncpg

from crm import database

log = logging.getLogger(__name__)

RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 10.0

Handler = Callable[[str], None]


async def listen_forever(dsn: str, handlers: Mapping[str, Handler], *, ready: asyncio.Event | None = None) -> None:
    """Deliver every NOTIFY on `handlers`' channels until cancelled; `ready` is set while listening."""
    delay = RECONNECT_MIN_S
    while True:
        try:
            await _listen_once(dsn, handlers, ready)
            delay = RECONNECT_MIN_S
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("LISTEN %s failed (%r); again in %.1f s", ", ".join(handlers), exc, delay)
        if ready is not None:
            ready.clear()
        await asyncio.sleep(delay)
        delay = min(delay * 2, RECONNECT_MAX_S)


async def _listen_once(dsn: str, handlers: Mapping[str, Handler], ready: asyncio.Event | None) -> None:
    conn = await database.connect(dsn)
    lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_lost(_: object) -> None:
        if not lost.done():
            lost.set_result(None)

    def dispatch(_conn: object, _pid: int, channel: str, payload: object) -> None:
        handler = handlers.get(channel)
        if handler is not None and isinstance(payload, str):
            try:
                handler(payload)
            except Exception:  # one bad message must not stop the listener
                log.exception("handler of %s failed", channel)

    try:
        conn.add_termination_listener(on_lost)
        for channel in handlers:
            await conn.add_listener(channel, dispatch)
        if ready is not None:
            ready.set()
        log.info("listening on %s", ", ".join(handlers))
        await lost
        log.warning("LISTEN connection for %s lost", ", ".join(handlers))
    finally:
        with contextlib.suppress(Exception):
            await conn.close(timeout=2)

"""Exactly one service instance talks to Asterisk's AMI: the holder of a PostgreSQL advisory lock.

Several `perezvon serve` processes may share one database (more web capacity, no single point of
failure). Two AMI connections would record every call twice, so each instance tries the session
advisory lock `AMI_LOCK_KEY` on a connection of its own; the one that gets it runs the AMI
client, the others wait on standby and try again every `retry_s`. A session lock dies with its
connection: when the holder's process dies (or its database connection does), PostgreSQL
releases the lock and a standby takes over within `retry_s`, logs in, resyncs the calls in
progress (CoreShowChannels) and fills the gap from the CDR (web/outage_recovery.py). Call
records are keyed by Linkedid, so the handover records nothing twice.

A holder that loses its connection stops its AMI client at once, before another can connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

from crm import database

log = logging.getLogger(__name__)

#: "perezvon AMI" as a 64-bit key: any constant works, as long as every instance uses the same one.
AMI_LOCK_KEY = 0x7065_7A76_6F6E_414D
RETRY_S = 2.0
KEEPALIVE_S = 5.0


class AmiLeadership:
    """Run `lead()` while this instance holds the lock; `held` says whether it does now."""

    def __init__(self, dsn: str, lead: Callable[[], Coroutine[Any, Any, None]], *, retry_s: float = RETRY_S,
                 keepalive_s: float = KEEPALIVE_S) -> None:
        self._dsn = dsn
        self._lead = lead
        self._retry_s = retry_s
        self._keepalive_s = keepalive_s
        self.held = False
        self.terms = 0
        #: Set once this instance has found the lock taken (it is on standby); for /healthz and tests.
        self.saw_other_leader = asyncio.Event()

    async def run(self) -> None:
        """Forever: wait for the lock, lead while it is held, start over when it is lost."""
        while True:
            try:
                await self._term()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("AMI leadership: database connection failed (%r); trying again in %.1f s",
                            exc, self._retry_s)
            self.held = False
            await asyncio.sleep(self._retry_s)

    async def _term(self) -> None:
        conn = await database.connect(self._dsn)
        try:
            waited = False
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", AMI_LOCK_KEY):
                self.saw_other_leader.set()
                if not waited:
                    log.info("AMI leadership: another instance holds the AMI connection; standing by")
                    waited = True
                await asyncio.sleep(self._retry_s)
            self.held = True
            self.terms += 1
            log.info("AMI leadership: this instance holds the AMI connection")
            lead: asyncio.Task[None] = asyncio.create_task(self._lead(), name="ami-lead")
            try:
                await self._keep(conn, lead)
            finally:
                lead.cancel()
                await asyncio.gather(lead, return_exceptions=True)
                self.held = False
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def _keep(self, conn: asyncpg.Connection[asyncpg.Record], lead: asyncio.Task[None]) -> None:
        """Return when the lock's connection fails (or `lead` ends); check it every `keepalive_s`."""
        while not lead.done():
            await asyncio.wait({lead}, timeout=self._keepalive_s)
            if lead.done():
                break
            try:
                async with asyncio.timeout(self._keepalive_s):
                    await conn.fetchval("SELECT 1")
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.error("AMI leadership lost: the lock's database connection failed (%r); stopping AMI", exc)
                return
        if not lead.cancelled() and lead.exception() is not None:
            log.error("AMI leadership: the AMI client stopped", exc_info=lead.exception())

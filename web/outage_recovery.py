"""Wiring of the outage backfill to the AMI connection: a heartbeat while connected, a backfill at every login.

The AMI client reports each session that reached `connected` (its `sessions` counter); this watcher
follows that. While connected it writes the time to `pbx_link` every few seconds, so even a perezvon
stopped for a night knows afterwards since when it saw nothing. At each login it reads that last
heartbeat (the gap's start), waits until the call recorder has written what the login's resync produced
(the calls Asterisk still has are open rows again, the ones it no longer has are closed `lost`), then
has `crm.recovery` build the missed calls from Asterisk's CDR. The very first login of an installation
has no heartbeat before it: nothing was being watched, so there is no gap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from crm.database import Pool
from crm.recovery import backfill, store
from pbx_bridge.ami_client import AmiClient, AmiState, AmiStatus

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
#: How long the backfill waits for the recorder to write the resync's facts before it goes ahead anyway.
DRAIN_WAIT_S = 30.0


class OutageRecovery:
    """Run `run()` as a task beside the AMI client (web/telephony.py does)."""

    def __init__(self, pool: Pool, ami: AmiClient, drain: Callable[[], Awaitable[None]], *,
                 default_region: str = "RU", heartbeat_s: float = HEARTBEAT_S,
                 clock: Callable[[], float] = time.time) -> None:
        self._pool = pool
        self._ami = ami
        self._drain = drain
        self._region = default_region
        self._heartbeat_s = heartbeat_s
        self._clock = clock
        #: The last backfill's result (tests and logs); None before the first one.
        self.last: backfill.BackfillResult | None = None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def run(self) -> None:
        """Forever: wait for a new AMI session, backfill the gap before it, beat while it lasts."""
        session = 0
        while True:
            status = await self._ami.wait_status(_new_session(session))
            session = status.sessions
            try:
                await self._after_login()
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                log.error("outage backfill after AMI login failed (the next login retries it): %r", exc)
            except Exception:  # a bug must not end the heartbeat (and so every later backfill)
                log.exception("outage backfill after AMI login failed")
            await self._beat_while(session)

    async def _after_login(self) -> None:
        regained_at = self._now()
        lost_at = await store.last_connected(self._pool)
        await store.beat(self._pool, regained_at)
        if lost_at is None:
            log.info("first AMI connection of this database: no earlier gap to backfill")
            return
        try:
            async with asyncio.timeout(DRAIN_WAIT_S):
                await self._drain()
        except TimeoutError:
            log.warning("call recorder still busy after %.0f s: backfilling the AMI gap anyway", DRAIN_WAIT_S)
        self.last = await backfill.backfill_gap(self._pool, lost_at=lost_at, regained_at=regained_at,
                                                now=self._now(), default_region=self._region)

    async def _beat_while(self, session: int) -> None:
        """Write the heartbeat every `heartbeat_s` until this session ends."""
        while True:
            try:
                async with asyncio.timeout(self._heartbeat_s):
                    await self._ami.wait_status(_session_over(session))
                return
            except TimeoutError:
                pass
            try:
                await store.beat(self._pool, self._now())
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                log.warning("AMI heartbeat not written: %r", exc)


def _new_session(after: int) -> Callable[[AmiStatus], bool]:
    return lambda s: s.state is AmiState.CONNECTED and s.sessions > after


def _session_over(session: int) -> Callable[[AmiStatus], bool]:
    return lambda s: s.state is not AmiState.CONNECTED or s.sessions != session

"""Placing self-check calls: the part that needs the AMI connection, so it runs in the instance holding it.

Runs are claimed by the minutely job on any worker (or asked for on the page) and wait in the
database as `pending`; this loop, in every `perezvon serve`, places them only while its instance holds
the AMI connection (web/ami_leader.py). It wakes on a NOTIFY (`CHANNEL`) and also looks every
`SWEEP_S`, so a notification lost while the holder changed costs seconds, not the test.

The Originate: `Local/<did>@perezvon-selfcheck` dials the shop's number through the trunk, with the
shop's caller ID, like a customer calling from outside; once the shop answers, the other half of the
Local channel runs `[perezvon-selfcheck-answer]`: a short tone, then it waits `wait_s` and hangs up.
"""

from __future__ import annotations

import asyncio
import logging

from crm.database import Pool
from crm.self_check import runs
from pbx_bridge.ami_actions import AmiError, Originate
from web.pg_listen import listen_forever
from web.telephony import Telephony

log = logging.getLogger(__name__)

CHANNEL = "perezvon_self_check"
DIAL_CONTEXT = "perezvon-selfcheck"
ANSWER_CONTEXT = "perezvon-selfcheck-answer"
#: The Originate's variable the answer side waits by (asterisk-conf/extensions.conf reads it).
WAIT_VARIABLE = "SELFCHECK_WAIT"
SWEEP_S = 15.0
#: How long Asterisk waits for the trunk to answer the test call (the shop's phones ring meanwhile).
RING_S = 60.0


async def notify(pool: Pool) -> None:
    """Wake the holder: a run is waiting (it would find it within `SWEEP_S` anyway)."""
    await pool.execute("SELECT pg_notify($1, '')", CHANNEL)


class SelfCheckCaller:
    def __init__(self, pool: Pool, telephony: Telephony | None, dsn: str | None) -> None:
        self._pool = pool
        self._telephony = telephony
        self._dsn = dsn
        self._wake = asyncio.Event()
        self.placed = 0

    def _holds_pbx(self) -> bool:
        return self._telephony is not None and self._telephony.places_calls

    async def run(self) -> None:
        if self._telephony is None or self._telephony.ami is None:
            return  # no Asterisk configured: runs stay pending and the minutely job refuses them
        listener = (asyncio.create_task(listen_forever(self._dsn, {CHANNEL: lambda _: self._wake.set()}))
                    if self._dsn is not None else None)
        try:
            while True:
                if self._holds_pbx():
                    try:
                        await self.place_pending()
                    except Exception:  # the database or AMI hiccuped: the next sweep tries again
                        log.exception("self-check: could not place the waiting test calls")
                self._wake.clear()
                try:
                    async with asyncio.timeout(SWEEP_S):
                        await self._wake.wait()
                except TimeoutError:
                    pass
        finally:
            if listener is not None:
                listener.cancel()

    async def place_pending(self) -> None:
        while self._holds_pbx() and (run := await runs.take_pending(self._pool)) is not None:
            await self._place(run)

    async def _place(self, run: runs.Run) -> None:
        telephony = self._telephony
        assert telephony is not None and telephony.ami is not None
        action = Originate(channel=f"Local/{run.did}@{DIAL_CONTEXT}", context=ANSWER_CONTEXT, exten="s",
                           caller_id=f'"perezvon" <{run.caller.removeprefix("+")}>', timeout_s=RING_S,
                           channel_id=run.linkedid,
                           variables={"PEREZVON_SELF_CHECK": run.linkedid, WAIT_VARIABLE: str(run.wait_s)})
        try:
            await telephony.ami.send(action)
        except (AmiError, ConnectionError, TimeoutError) as exc:
            log.warning("self-check %s: the PBX refused the test call: %s", run.linkedid, exc)
            await runs.refuse(self._pool, run.id, f"the PBX refused the test call: {exc}")
            return
        self.placed += 1
        log.info("self-check %s: calling %s through the trunk", run.linkedid, run.did)

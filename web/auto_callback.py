"""Auto-callback in a running service: place the callbacks crm/auto_callback.py chooses, through click-to-call.

It runs beside every `perezvon serve` and acts only while its instance holds the AMI connection: only
that instance knows which phones are registered and which operators are in a call right now. Every
`SWEEP_S` it reads the setting (so switching it on or off on the page takes effect within a sweep),
picks at most one task per free operator, and places each with `ClickToCall.place` as the operator's
own call button would: their phone rings first, then the customer; the call is linked to the task.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from crm import auto_callback, managers
from crm.database import Pool
from crm.errors import CrmError
from crm.routing.data import load_routing_config
from crm.routing.hours import is_open, schedule_for
from web.click_to_call import ClickToCall
from web.telephony import Telephony

log = logging.getLogger(__name__)

SWEEP_S = 20.0


class AutoCallback:
    def __init__(self, pool: Pool, telephony: Telephony | None, click_to_call: ClickToCall) -> None:
        self._pool = pool
        self._telephony = telephony
        self._click_to_call = click_to_call
        self.placed = 0

    def _holds_pbx(self) -> bool:
        telephony = self._telephony
        return telephony is not None and telephony.places_calls and telephony.live is not None

    async def run(self) -> None:
        if self._telephony is None or self._telephony.ami is None:
            return
        while True:
            try:
                await self.sweep(datetime.now(UTC))
            except Exception:  # the database hiccuped: the next sweep tries again
                log.exception("auto-callback: the sweep failed")
            await asyncio.sleep(SWEEP_S)

    async def sweep(self, now: datetime) -> int:
        """Place the callbacks due now; how many were placed."""
        if not self._holds_pbx():
            return 0
        settings = await auto_callback.load_settings(self._pool)
        found = await auto_callback.candidates(self._pool, now, settings)
        if not found:
            return 0
        schedules = (await load_routing_config(self._pool)).schedules
        telephony = self._telephony
        assert telephony is not None and telephony.live is not None
        snapshot = telephony.live.snapshot()

        def open_now(did: str) -> bool:
            schedule = schedule_for(schedules, did)
            return schedule is None or is_open(schedule, now)

        def phone_free(extension: str) -> bool:
            return snapshot.is_available(extension) and snapshot.calls_of(extension) == 0

        placed = 0
        for candidate in auto_callback.choose(found, phone_free=phone_free, open_now=open_now):
            user = await managers.get_manager(self._pool, candidate.assignee_id)
            try:
                call = await self._click_to_call.place(user, None, task_id=candidate.task_id)
            except CrmError as exc:
                log.info("auto-callback: task %d could not be placed: %s", candidate.task_id, exc)
                await auto_callback.record_attempt(self._pool, candidate, linkedid=None, error=str(exc))
                continue
            await auto_callback.record_attempt(self._pool, candidate, linkedid=call.call_id)
            log.info("auto-callback: task %d, %s's phone rings, then %s", candidate.task_id, user.login,
                     call.phone)
            placed += 1
        self.placed += placed
        return placed

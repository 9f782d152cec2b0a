"""Call facts, once in the database, as live messages for the people they concern.

The call recorder tells the publisher of each fact after writing it, so a pop reads a record
that already holds the ringing leg and the customer linked to the call (a new contact too).
Facts are handled one at a time in arrival order on the publisher's own task: the tracker's
hot path only queues them.

Who gets what:
- the operator whose phone rings: the `pop` (their language), then its state: `in_call` when they
  answer, `taken` when a colleague answered, `missed` when their phone stopped ringing, `ended`
  with the talk time when the call is over; a transfer rings a new leg, so it pops for the new
  operator too;
- everyone the call rang and the supervisors: `calls.changed` when a call starts or ends (the
  journal, the card's calls block and the supervisor's home refresh themselves).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from crm import managers, orders, screen_pop
from crm.database import Pool
from crm.errors import NotFound
from crm.workflow import StatusWorkflow
from pbx_bridge import call_facts as cf
from web.i18n import Catalogues
from web.live.bus import LiveBus
from web.live.hub import Audience
from web.live.pop_payload import Money, pop_message
from web.live.progress import FAILURES, RINGING_YOU, progress_of

log = logging.getLogger(__name__)

MAX_BACKLOG = 50_000
#: How long the order statuses and a manager's language are reused between pops (an admin's change shows
#: within this time).
CACHE_S = 30.0


class LivePublisher:
    """An after-write hook for `web.call_recorder.CallRecorder`; run `run()` beside the recorder."""

    def __init__(self, pool: Pool, bus: LiveBus, *, catalogues: Catalogues, zone: tzinfo, money: Money,
                 clock: Callable[[], float] = time.time) -> None:
        self._pool = pool
        self._bus = bus
        self._catalogues = catalogues
        self._zone = zone
        self._money = money
        self._clock = clock
        self._queue: asyncio.Queue[cf.CallFact] = asyncio.Queue()
        #: call id -> the managers its legs rang (who its later states and its end concern)
        self._rung: dict[str, set[int]] = {}
        #: call id -> the manager who answered it
        self._answered_by: dict[str, int] = {}
        #: click-to-call id -> (the operator who placed it, its progress so far)
        self._placed: dict[str, tuple[int | None, str]] = {}
        self.published = 0
        self._workflow: tuple[float, StatusWorkflow] | None = None
        self._locales: dict[int, tuple[float, str]] = {}

    def on_written(self, fact: cf.CallFact) -> None:
        if isinstance(fact, cf.LegRinging | cf.LegAnswered | cf.LegEnded | cf.CallStarted | cf.CallEnded | cf.CallLost):
            if self._queue.qsize() < MAX_BACKLOG:
                self._queue.put_nowait(fact)

    async def run(self) -> None:
        while True:
            fact = await self._queue.get()
            try:
                await self._publish(fact)
            except Exception:  # a pop not shown must not stop the next ones
                log.exception("call %s: live message for %s failed", fact.call_id, type(fact).__name__)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        await self._queue.join()

    async def _publish(self, fact: cf.CallFact) -> None:
        if isinstance(fact, cf.CallStarted) and fact.click_to_call:
            self._placed[fact.call_id] = (await screen_pop.click_to_call_requester(self._pool, fact.call_id), "")
        if fact.call_id in self._placed and isinstance(fact, cf.LegRinging | cf.LegAnswered | cf.LegEnded):
            await self._on_placed_leg(fact)
            return
        match fact:
            case cf.LegRinging() if fact.extension:
                await self._on_ringing(fact)
            case cf.LegAnswered() if fact.extension:
                await self._on_answered(fact)
            case cf.LegEnded() if fact.extension:
                await self._on_leg_ended(fact)
            case cf.CallStarted():
                await self._send(Audience(supervisors=True), {"type": "calls.changed", "call": fact.call_id})
            case cf.CallEnded():
                await self._on_call_ended(fact)
            case cf.CallLost():  # its end was never seen: forget it, as at an end
                self._rung.pop(fact.call_id, None)
                self._answered_by.pop(fact.call_id, None)
                self._placed.pop(fact.call_id, None)

    async def _manager(self, fact: cf.LegFact) -> int | None:
        return await screen_pop.manager_of_leg(self._pool, fact.call_id, fact.channel)

    async def _on_ringing(self, fact: cf.LegRinging) -> None:
        manager_id = await self._manager(fact)
        if manager_id is None:
            return
        self._rung.setdefault(fact.call_id, set()).add(manager_id)
        message = await self.pop_for(fact.call_id, manager_id, state="ringing")
        if message is not None:
            await self._send(Audience(frozenset({manager_id})), message)

    async def pop_for(self, call_id: str, manager_id: int, *, state: str) -> dict[str, Any] | None:
        """The pop of this call for this manager (also the websocket's snapshot after a reconnect)."""
        card = await screen_pop.caller_card(self._pool, call_id, await self._statuses())
        locale = await self._locale(manager_id)
        if card is None or locale is None:
            return None

        def translate(key: str) -> str:
            return self._catalogues.gettext(locale, key)

        return pop_message(card, state=state, locale=locale, translate=translate, money=self._money,
                           zone=self._zone, now=datetime.fromtimestamp(self._clock(), UTC))

    async def _statuses(self) -> StatusWorkflow:
        now = time.monotonic()
        if self._workflow is None or now - self._workflow[0] > CACHE_S:
            self._workflow = (now, await orders.load_workflow(self._pool))
        return self._workflow[1]

    async def _locale(self, manager_id: int) -> str | None:
        """The manager's language (None: no such manager)."""
        now = time.monotonic()
        cached = self._locales.get(manager_id)
        if cached is None or now - cached[0] > CACHE_S:
            try:
                manager = await managers.get_manager(self._pool, manager_id)
            except NotFound:
                return None
            cached = (now, manager.locale or "ru")
            self._locales[manager_id] = cached
        return cached[1]

    async def _on_answered(self, fact: cf.LegAnswered) -> None:
        manager_id = await self._manager(fact)
        if manager_id is None:
            return
        self._answered_by[fact.call_id] = manager_id
        rung = self._rung.setdefault(fact.call_id, set())
        rung.add(manager_id)
        await self._send(Audience(frozenset({manager_id})), self._state(fact, "in_call"))
        others = frozenset(rung - {manager_id})
        if others:
            await self._send(Audience(others), self._state(fact, "taken"))

    async def _on_leg_ended(self, fact: cf.LegEnded) -> None:
        manager_id = await self._manager(fact)
        if manager_id is None or self._answered_by.get(fact.call_id) == manager_id or fact.answered_elsewhere:
            return
        await self._send(Audience(frozenset({manager_id})), self._state(fact, "missed"))

    async def _on_placed_leg(self, fact: cf.LegRinging | cf.LegAnswered | cf.LegEnded) -> None:
        """A leg of a click-to-call: its progress for the operator who placed it."""
        requester, shown = self._placed[fact.call_id]
        state = progress_of(fact)
        if requester is None and fact.extension:
            requester = await self._manager(fact)
        if state is None or requester is None or state == shown:
            return
        self._placed[fact.call_id] = (requester, state)
        self._rung.setdefault(fact.call_id, set()).add(requester)
        audience = Audience(frozenset({requester}))
        if state == RINGING_YOU:
            message = await self.pop_for(fact.call_id, requester, state=state)
            if message is not None:
                await self._send(audience, message)
            return
        await self._send(audience, self._state(fact, state))

    async def _on_call_ended(self, fact: cf.CallEnded) -> None:
        rung = frozenset(self._rung.pop(fact.call_id, set()))
        self._answered_by.pop(fact.call_id, None)
        _, progress = self._placed.pop(fact.call_id, (None, ""))
        ended = {**self._state(fact, "ended"), "outcome": fact.outcome.value,
                 "talk_s": None if fact.talk_s is None else round(fact.talk_s),
                 "result": progress if progress in FAILURES else ""}
        if rung:
            await self._send(Audience(rung), ended)
        await self._send(Audience(rung, supervisors=True), {"type": "calls.changed", "call": fact.call_id})

    @staticmethod
    def _state(fact: cf.Fact, state: str) -> dict[str, Any]:
        return {"type": "pop.state", "call": fact.call_id, "state": state, "at": fact.at}

    async def _send(self, audience: Audience, message: dict[str, Any]) -> None:
        await self._bus.publish(audience, message)
        self.published += 1

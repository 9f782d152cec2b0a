"""The Router the FastAGI server asks: the CRM's routing policy fed with the PBX's live state.

Per inbound call: one query loads the routing context (configuration + the caller, found by the
E.164 form of the number), the pure policy decides with ``now`` and the live load / registration
the bridge keeps in memory, and the decision becomes the dialplan's variables. Recording the
decision on the call ("why did this call go there") runs as a background task *after* the answer
is returned, so it never delays the call; :meth:`CrmRouter.drain` waits for those writes at shutdown.

Every target is dialled as ``PJSIP/<extension>`` (all the manager's registered phones ring
together); the web softphone's dial string comes with the softphone work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from crm.database import Pool
from crm.routing import LiveState, RouteDecision, RoutingConfig, decide_route
from crm.routing_data import load_route_context, record_route_decision
from pbx_bridge.agi_contract import RouteAnswer, RouteRequest
from pbx_bridge.agi_server import AgiServer
from pbx_bridge.agi_settings import AgiSettings
from pbx_bridge.live_load import LiveLoad

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 5.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def dial_strings(decision: RouteDecision) -> tuple[str, ...]:
    """The targets in order as Dial() strings, each extension once."""
    out: list[str] = []
    for target in decision.targets:
        for extension in target.extensions:
            dial = f"PJSIP/{extension}"
            if dial not in out:
                out.append(dial)
    return tuple(out)


def answer_for(decision: RouteDecision) -> RouteAnswer:
    return RouteAnswer(targets=dial_strings(decision), ring_timeout_s=decision.ring_timeout_s,
                       fallback=decision.fallback, reason=decision.reason, customer_id=decision.customer_id,
                       caller_name=decision.caller_name or None)


def live_state(config: RoutingConfig, live: LiveLoad) -> LiveState:
    """The policy's view of the PBX: calls per manager (counted once per call), unregistered phones, last call end."""
    by_extension = live.calls_by_extension()
    active: dict[int, int] = {}
    last_end: dict[int, datetime] = {}
    for manager in config.managers:
        calls: set[str] = set()
        for extension in manager.extensions:
            calls |= by_extension.get(extension, set())
        if calls:
            active[manager.id] = len(calls)
        ends = [at for at in (live.idle_since(ext) for ext in manager.extensions) if at is not None]
        if ends:
            last_end[manager.id] = datetime.fromtimestamp(max(ends), UTC)
    return LiveState(active_calls=active, unregistered=live.snapshot().unavailable, last_call_end=last_end)


class CrmRouter:
    """Implements :class:`pbx_bridge.agi_contract.Router` on the CRM; created by the composition root."""

    def __init__(self, pool: Pool, live: LiveLoad, *, default_region: str = "RU", locale: str = "ru",
                 clock: Callable[[], datetime] = utc_now) -> None:
        self._pool = pool
        self._live = live
        self._default_region = default_region
        self._locale = locale
        self._clock = clock
        self._writes: set[asyncio.Task[None]] = set()

    async def route(self, request: RouteRequest) -> RouteAnswer:
        context = await load_route_context(self._pool, request.caller_number, request.did,
                                           default_region=self._default_region)
        now = self._clock()
        decision = decide_route(context, live_state(context.config, self._live), now, locale=self._locale)
        answer = answer_for(decision)
        task = asyncio.create_task(self._record(request, decision, answer, now),
                                   name=f"route-record-{request.linkedid}")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return answer

    async def _record(self, request: RouteRequest, decision: RouteDecision, answer: RouteAnswer,
                      now: datetime) -> None:
        try:
            await record_route_decision(self._pool, request.linkedid, decision, at=now,
                                        caller_number=request.caller_number, did=request.did,
                                        dial="&".join(answer.targets))
        except Exception:
            logger.exception("call %s: could not record the route decision %s", request.linkedid, decision.reason)

    @property
    def pending_writes(self) -> int:
        return len(self._writes)

    async def drain(self) -> None:
        """Until every decision taken so far is written (shutdown, tests)."""
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)


class RoutingService:
    """The FastAGI server with the CrmRouter behind it: one start/close unit for the composition root.

    A port that cannot be bound is logged, not fatal: the dialplan's ``AGISTATUS`` check sends calls
    to the queue, and /healthz says ``agi: unavailable``.
    """

    def __init__(self, pool: Pool, live: LiveLoad, settings: AgiSettings, *, default_region: str = "RU",
                 locale: str = "ru") -> None:
        self.settings = settings
        self.router = CrmRouter(pool, live, default_region=default_region, locale=locale)
        self.server: AgiServer | None = None
        self._state = "disabled"

    async def start(self) -> int | None:
        """The bound port, or None when disabled (empty PEREZVON_AGI_HOST) or the port could not be bound."""
        if not self.settings.enabled:
            logger.info("no FastAGI router (PEREZVON_AGI_HOST is empty)")
            return None
        server = AgiServer(self.settings, self.router)
        try:
            port = await server.start()
        except OSError as exc:
            self._state = "unavailable"
            logger.error("FastAGI router cannot listen on %s:%d (%s): calls take the dialplan's fallback",
                         self.settings.host, self.settings.port, exc)
            return None
        self.server, self._state = server, "listening"
        return port

    @property
    def port(self) -> int | None:
        return self.server.port if self.server is not None else None

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None
            self._state = "stopped"
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT_S):
                await self.router.drain()
        except TimeoutError:
            logger.warning("stopping with %d route decisions not yet recorded", self.router.pending_writes)

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = {"agi": self._state}
        if self.server is not None:
            stats = self.server.stats
            body["agi_routed"] = stats.routed
            body["agi_fallbacks"] = stats.fallback_timeout + stats.fallback_error
        return body

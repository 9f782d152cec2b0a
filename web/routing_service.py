"""The Router the FastAGI server asks: the CRM's routing policy fed with the PBX's live state.

Per inbound call: one query loads the caller (found by the E.164 form of the number) with their
urgent and latest orders; the routing configuration (managers with presence and caps, groups, rules,
schedules) is cached for ``config_ttl_s`` (2 s by default), since with hundreds of managers loading it
costs several times more than the caller. An admin's change or a manager's presence therefore reaches
routing within the TTL; ``config_ttl_s=0`` loads both in one statement per call. The pure policy
decides with ``now`` and the live load / registration the bridge keeps in memory, and the decision
becomes the dialplan's variables. Recording the
decision on the call ("why did this call go there") runs as a background task *after* the answer
is returned, so it never delays the call; :meth:`CrmRouter.drain` waits for those writes at shutdown.

Every target is dialled as ``PJSIP/<extension>`` (all the manager's registered phones ring
together), and a softphone manager's softphone as ``AudioSocket/<server>/<uuid>/c(slin)`` when
``PEREZVON_SOFTPHONE_AUDIOSOCKET`` names the server: the UUID carries the extension it answers as
(:mod:`pbx_bridge.audiosocket.legs`), so the call record knows whose leg it was on any instance.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from crm.database import Pool
from crm.routing.data import load_route_context, load_routing_config, record_route_decision
from crm.routing.policy import LiveState, RouteDecision, RoutingConfig, decide_route
from pbx_bridge.agi_contract import RouteAnswer, RouteRequest
from pbx_bridge.agi_server import AgiServer
from pbx_bridge.agi_settings import AgiSettings
from pbx_bridge.audiosocket import legs as softphone_legs
from pbx_bridge.live_load import LiveLoad

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 5.0
#: How long a loaded routing configuration is used before it is read again.
CONFIG_TTL_S = 2.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def dial_strings(decision: RouteDecision, softphone_server: str = "") -> tuple[str, ...]:
    """The targets in order as Dial() strings, each extension once; each softphone after its owner's phones."""
    out: list[str] = []
    for target in decision.targets:
        for extension in target.extensions:
            dial = f"PJSIP/{extension}"
            if dial not in out:
                out.append(dial)
        if softphone_server and target.softphone_extension:
            out.append(softphone_legs.dial_string(softphone_server, target.softphone_extension))
    return tuple(out)


def answer_for(decision: RouteDecision, softphone_server: str = "") -> RouteAnswer:
    return RouteAnswer(targets=dial_strings(decision, softphone_server), ring_timeout_s=decision.ring_timeout_s,
                       fallback=decision.fallback, reason=decision.reason, customer_id=decision.customer_id,
                       caller_name=decision.caller_name or None)


def extension_owners(config: RoutingConfig) -> dict[str, int]:
    """Extension -> the active manager it rings (an extension belongs to one manager)."""
    return {extension: manager.id for manager in config.managers for extension in manager.extensions}


def live_state(config: RoutingConfig, live: LiveLoad, owners: Mapping[str, int] | None = None) -> LiveState:
    """The policy's view of the PBX: calls per manager (counted once per call), unregistered phones, last call end.

    Only the extensions the PBX reported on are visited (calls in progress, calls ended), not every
    manager: with hundreds of managers this runs on every call. `owners` is `extension_owners(config)`,
    which a caller holding the config for a while computes once.
    """
    owners = extension_owners(config) if owners is None else owners
    snapshot = live.snapshot()
    calls: dict[int, set[str]] = {}
    for extension, call_ids in live.calls_by_extension().items():
        manager_id = owners.get(extension)
        if manager_id is not None:
            calls.setdefault(manager_id, set()).update(call_ids)
    ends: dict[int, float] = {}
    for extension, at in snapshot.idle_since.items():
        manager_id = owners.get(extension)
        if manager_id is not None and at > ends.get(manager_id, at - 1):
            ends[manager_id] = at
    unregistered = snapshot.unavailable
    if snapshot.complete:  # Asterisk listed every device: an extension it did not list cannot ring
        unregistered = unregistered | frozenset(ext for ext in owners if ext not in snapshot.registered)
    return LiveState(active_calls={manager_id: len(ids) for manager_id, ids in calls.items()},
                     unregistered=unregistered,
                     last_call_end={manager_id: datetime.fromtimestamp(at, UTC) for manager_id, at in ends.items()})


class CrmRouter:
    """Implements :class:`pbx_bridge.agi_contract.Router` on the CRM; created by the composition root."""

    def __init__(self, pool: Pool, live: LiveLoad, *, default_region: str = "RU", locale: str = "ru",
                 clock: Callable[[], datetime] = utc_now, config_ttl_s: float = CONFIG_TTL_S,
                 monotonic: Callable[[], float] = time.monotonic, softphone_server: str = "") -> None:
        self._pool = pool
        self._softphone_server = softphone_server
        self._live = live
        self._default_region = default_region
        self._locale = locale
        self._clock = clock
        self._writes: set[asyncio.Task[None]] = set()
        self._config_ttl_s = config_ttl_s
        self._monotonic = monotonic
        self._config: RoutingConfig | None = None
        self._config_loaded_at = 0.0
        self._config_refresh: asyncio.Task[RoutingConfig] | None = None
        self._owners: tuple[RoutingConfig, dict[str, int]] | None = None

    async def route(self, request: RouteRequest) -> RouteAnswer:
        context = await load_route_context(self._pool, request.caller_number, request.did,
                                           default_region=self._default_region, config=await self._routing_config())
        now = self._clock()
        decision = decide_route(context, live_state(context.config, self._live, self._owners_of(context.config)), now,
                                locale=self._locale)
        answer = answer_for(decision, self._softphone_server)
        task = asyncio.create_task(self._record(request, decision, answer, now),
                                   name=f"route-record-{request.linkedid}")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return answer

    def _owners_of(self, config: RoutingConfig) -> dict[str, int]:
        """`extension_owners` of the config, computed once per loaded config."""
        if self._owners is None or self._owners[0] is not config:
            self._owners = (config, extension_owners(config))
        return self._owners[1]

    async def _routing_config(self) -> RoutingConfig | None:
        """The cached configuration, reloaded once it is older than the TTL; None when caching is off.

        One reload at a time: calls arriving meanwhile wait for the same one. It is shielded, so a
        call cancelled at the deadline does not cancel the reload the others are waiting for.
        """
        if self._config_ttl_s <= 0:
            return None
        if self._config is not None and self._monotonic() - self._config_loaded_at < self._config_ttl_s:
            return self._config
        if self._config_refresh is None:
            self._config_refresh = asyncio.create_task(self._reload_config(), name="routing-config")
            self._config_refresh.add_done_callback(_retrieve)
        return await asyncio.shield(self._config_refresh)

    async def _reload_config(self) -> RoutingConfig:
        started = self._monotonic()
        try:
            config = await load_routing_config(self._pool)
        finally:
            self._config_refresh = None
        self._config, self._config_loaded_at = config, started
        return config

    def note_fallback(self, request: RouteRequest, answer: RouteAnswer) -> None:
        """The AGI server answered the fallback (this router was late or failed): record that on the call too."""
        explanation = {
            "fallback_timeout": "The CRM did not decide within the router's deadline; the call went to the fallback.",
            "fallback_error": "The CRM failed to decide; the call went to the fallback.",
        }.get(answer.reason, "The call went to the fallback.")
        decision = RouteDecision(targets=(), ring_timeout_s=answer.ring_timeout_s, fallback=answer.fallback,
                                 reason=answer.reason, explanation=explanation, customer_id=None,
                                 customer_e164=None, order_id=None, order_number=None, caller_name="")
        task = asyncio.create_task(self._record(request, decision, answer, self._clock()),
                                   name=f"route-record-{request.linkedid}")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _record(self, request: RouteRequest, decision: RouteDecision, answer: RouteAnswer,
                      now: datetime) -> None:
        try:
            await record_route_decision(self._pool, request.linkedid, decision, at=now,
                                        caller_number=request.caller_number, did=request.did,
                                        dial="&".join(answer.targets), caller_name=request.caller_name,
                                        restricted=request.restricted)
        except Exception:
            logger.exception("call %s: could not record the route decision %s", request.linkedid, decision.reason)

    @property
    def pending_writes(self) -> int:
        return len(self._writes)

    async def drain(self) -> None:
        """Until every decision taken so far is written (shutdown, tests)."""
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)


def _retrieve(task: asyncio.Task[RoutingConfig]) -> None:
    """A reload nobody awaits any more (its callers hit the deadline) must not leave its error unretrieved."""
    if not task.cancelled() and task.exception() is not None:
        logger.warning("could not load the routing configuration", exc_info=task.exception())


class RoutingService:
    """The FastAGI server with the CrmRouter behind it: one start/close unit for the composition root.

    A port that cannot be bound is logged, not fatal: the dialplan's ``AGISTATUS`` check sends calls
    to the queue, and /healthz says ``agi: unavailable``.
    """

    def __init__(self, pool: Pool, live: LiveLoad, settings: AgiSettings, *, default_region: str = "RU",
                 locale: str = "ru") -> None:
        self.settings = settings
        self.router = CrmRouter(pool, live, default_region=default_region, locale=locale,
                                softphone_server=settings.softphone_audiosocket)
        self.server: AgiServer | None = None
        self._state = "disabled"

    async def start(self) -> int | None:
        """The bound port, or None when disabled (empty PEREZVON_AGI_HOST) or the port could not be bound."""
        if not self.settings.enabled:
            logger.info("no FastAGI router (PEREZVON_AGI_HOST is empty)")
            return None
        server = AgiServer(self.settings, self.router, on_fallback=self.router.note_fallback)
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

"""Composition of the PBX side: AMI client -> call tracker -> call records (and the simulator in demo).

pbx_bridge knows nothing of the CRM and the CRM nothing of Asterisk; this module is where they
meet. The AMI client hands typed events to the pure tracker; the tracker hands call facts to the
recorder, which writes them into the CRM. With no Asterisk configured, `demo` starts the PBX
simulator on loopback and connects to it exactly as it would to a real Asterisk.

Routing: `LiveLoad` is fed the same call facts (calls in progress per extension) and the same AMI
events (device / contact state); the FastAGI server's `CrmRouter` reads it for every inbound call.
In demo the simulator's inbound calls ask that router over FastAGI, as the dialplan does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from crm import lost_calls
from crm.customers import sample_phones
from crm.database import Pool
from pbx_bridge.agi_settings import AgiSettings
from pbx_bridge.ami_client import AmiClient
from pbx_bridge.ami_events import AmiEvent
from pbx_bridge.call_facts import CallFact, CallFactSink
from pbx_bridge.call_tracker import CallTracker
from pbx_bridge.live_load import LiveLoad
from pbx_bridge.simulator import Simulator
from pbx_bridge.tracker_state import TrackerSettings
from web.ami_leader import AmiLeadership
from web.call_recorder import CallRecorder
from web.config import Settings
from web.outage_recovery import OutageRecovery
from web.routing_service import RoutingService

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 10.0
#: How often open calls past the tracker's bound are closed (they are rare: a look every 10 minutes).
STALE_SWEEP_EVERY_S = 600.0


async def sweep_stale_calls(pool: Pool, stale_call_s: float, every_s: float = STALE_SWEEP_EVERY_S) -> None:
    """Close calls still open long after they started, whatever the AMI did (with no AMI, nothing else does)."""
    while True:
        try:
            closed = await lost_calls.close_stale_calls(pool, datetime.now(UTC) - timedelta(seconds=stale_call_s))
            if closed:
                log.warning("closed %d calls still open after %.0f h as lost: %s", len(closed), stale_call_s / 3600,
                            ", ".join(closed[:20]))
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            log.warning("could not close stale calls: %r", exc)
        await asyncio.sleep(every_s)


async def _run_client(client: AmiClient) -> None:
    """The AMI client's term as leader: connected (reconnecting as needed) until cancelled."""
    async with client:
        await asyncio.Future()


class TrackerFeed:
    """The AMI client's consumer: every event goes through the pure tracker, then to the live load."""

    def __init__(self, tracker: CallTracker, live: LiveLoad | None = None) -> None:
        self._tracker = tracker
        self._live = live

    def on_event(self, event: AmiEvent) -> None:
        self._tracker.feed(event)
        if self._live is not None:
            try:
                self._live.on_event(event)
            except Exception:  # the live view must never stop the tracker
                log.exception("live load failed on %s", type(event).__name__)


class FactFanout:
    """One sink for the tracker that hands each fact to several consumers (records now, the live hub later)."""

    def __init__(self, *sinks: CallFactSink) -> None:
        self._sinks = sinks

    def on_fact(self, fact: CallFact) -> None:
        for sink in self._sinks:
            try:
                sink.on_fact(fact)
            except Exception:  # one broken consumer must not starve the others
                log.exception("call %s: fact consumer %r failed", fact.call_id, sink)


@dataclass
class Telephony:
    tracker: CallTracker
    recorder: CallRecorder
    ami: AmiClient | None
    simulator: Simulator | None
    live: LiveLoad | None = None
    routing: RoutingService | None = None
    #: Set when several instances may share the database: only the lock holder runs `ami`.
    leadership: AmiLeadership | None = None

    @property
    def standby(self) -> bool:
        """Another instance holds the AMI connection; this one serves the web and waits its turn."""
        return self.leadership is not None and not self.leadership.held

    @property
    def places_calls(self) -> bool:
        """This instance holds a connected AMI session: the one that may send Originates now (self-check calls,
        auto-callback); the others leave theirs waiting in the database."""
        return self.ami is not None and not self.standby and self.ami.status.state == "connected"

    def health(self) -> dict[str, Any]:
        """The PBX part of /healthz: AMI connected, reconnecting (with the last error) or disabled; the AGI router."""
        agi = self.routing.health() if self.routing is not None else {}
        if self.ami is None:
            return {"ami": "disabled", **agi}
        if self.standby:
            return {"ami": "standby", **agi}
        status = self.ami.status
        body: dict[str, Any] = {"ami": status.state}
        if status.state != "connected" and status.last_error:
            body["ami_error"] = status.last_error
        if self.simulator is not None:
            body["ami_simulated"] = True
        return {**body, **agi}

    def problems(self, ami_grace_s: float) -> list[str]:
        """What configured part does not work, for /healthz's `degraded`; a short AMI drop is not one yet."""
        out: list[str] = []
        if self.ami is not None and not self.standby:
            status = self.ami.status
            down = status.down_for_s
            if status.state != "connected" and down is not None and down > ami_grace_s:
                out.append(f"AMI not connected for {down:.0f} s")
        if self.routing is not None and self.routing.settings.enabled and self.routing.health()["agi"] != "listening":
            out.append("FastAGI router not listening")
        return out


@contextlib.asynccontextmanager
async def start_telephony(settings: Settings, pool: Pool, *, simulate: bool,
                          agi: AgiSettings | None = None, dsn: str | None = None,
                          after_write: Callable[[CallFact], None] | None = None) -> AsyncIterator[Telephony]:
    """Run the PBX side for the lifetime of the block; with `simulate` and no AMI host, against the simulator.

    `agi`: the FastAGI router's settings (None: no router). `dsn`: the database, for the AMI
    leadership lock (web/ami_leader.py; None: this process connects AMI unconditionally).
    `after_write`: told of each call fact once written (the live panel's publisher).
    """
    live = LiveLoad()
    recorder = CallRecorder(pool, default_region=settings.crm.default_region, after_write=after_write)
    tracker = CallTracker(sink=FactFanout(recorder, live))
    routing = RoutingService(pool, live, agi or AgiSettings(host=""), default_region=settings.crm.default_region)
    agi_port = await routing.start()
    ami_settings = settings.ami
    simulator: Simulator | None = None
    if not ami_settings.enabled and simulate:
        phones = await sample_phones(pool, limit=60)
        sim_settings = replace(settings.simulator, known_phones=",".join(p.removeprefix("+") for p in phones))
        if sim_settings.recordings_dir is None:  # demo calls leave recordings where perezvon looks for them
            incoming = settings.recordings.paths(settings.database.data_dir).incoming
            sim_settings = replace(sim_settings, recordings_dir=incoming)
        if agi_port is not None and not sim_settings.agi_host:  # demo calls ask our own router
            sim_settings = replace(sim_settings, agi_host=routing.settings.host, agi_port=agi_port,
                                   agi_secret=routing.settings.secret)
        simulator = Simulator(sim_settings)
        port = await simulator.start()
        ami_settings = replace(ami_settings, host=sim_settings.ami_host, port=port,
                               username=sim_settings.ami_username, secret=sim_settings.ami_secret)
        log.info("PBX simulator on %s:%d, %.1f calls/min", sim_settings.ami_host, port, sim_settings.calls_per_minute)
    recorder_task = asyncio.create_task(recorder.run(), name="call-recorder")
    sweep_task = asyncio.create_task(sweep_stale_calls(pool, TrackerSettings().stale_call_s), name="stale-calls")
    client = AmiClient(ami_settings, TrackerFeed(tracker, live)) if ami_settings.enabled else None
    # After every AMI login: the calls made while we were away, from Asterisk's CDR (web/outage_recovery.py).
    recovery_task = None if client is None else asyncio.create_task(
        OutageRecovery(pool, client, recorder.drain, default_region=settings.crm.default_region).run(),
        name="outage-recovery")
    leader_task: asyncio.Task[None] | None = None
    try:
        if client is None:
            log.info("no Asterisk configured (PEREZVON_AMI_HOST): AMI disabled")
            yield Telephony(tracker, recorder, None, simulator, live, routing)
        elif dsn is None:
            async with client:
                yield Telephony(tracker, recorder, client, simulator, live, routing)
        else:
            leadership = AmiLeadership(dsn, functools.partial(_run_client, client))
            leader_task = asyncio.create_task(leadership.run(), name="ami-leadership")
            yield Telephony(tracker, recorder, client, simulator, live, routing, leadership)
    finally:
        if leader_task is not None:
            leader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leader_task
        if recovery_task is not None:
            recovery_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recovery_task
        if simulator is not None:
            await simulator.stop()
        await routing.close()
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT_S):
                await recorder.drain()
        except TimeoutError:
            log.warning("stopping with %d call facts not yet written", recorder.backlog)
        for task in (recorder_task, sweep_task):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

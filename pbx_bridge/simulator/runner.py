"""The simulator as one object with a lifecycle, and the entry point ``perezvon simulate`` runs.

:class:`Simulator` wires the pieces: one :class:`PbxCore` (clock, ids, live channels), the AMI
server on loopback, the call driver, and the calls in progress (each its own task, its exceptions
logged, never lost). ``start()`` returns the bound port; ``stop()`` cancels calls and closes clients.
"""

from __future__ import annotations

import asyncio
import logging
import random

from pbx_bridge.simulator.agi_client import AgiTarget
from pbx_bridge.simulator.ami_server import AmiServer, OriginateRequest
from pbx_bridge.simulator.catalog import SCENARIOS, play
from pbx_bridge.simulator.channels import PbxCore
from pbx_bridge.simulator.clock import SimClock, WallClock
from pbx_bridge.simulator.driver import CallDriver, DriverConfig
from pbx_bridge.simulator.mixmonitor import MixMonitorWriter
from pbx_bridge.simulator.scenarios import CallParams
from pbx_bridge.simulator.settings import SimulatorSettings

logger = logging.getLogger(__name__)


class Simulator:
    """A simulated Asterisk: ``await start()`` -> port; calls by the driver, by Originate, or :meth:`start_call`."""

    def __init__(self, settings: SimulatorSettings, *, clock: SimClock | None = None) -> None:
        self.settings = settings
        rng = random.Random(settings.seed)
        agi = (AgiTarget(settings.agi_host, settings.agi_port, secret=settings.agi_secret)
               if settings.agi_host.strip() else None)
        self.core = PbxCore(clock or WallClock(settings.speed), random.Random(rng.getrandbits(64)), agi=agi)
        self.server = AmiServer(self.core, username=settings.ami_username, secret=settings.ami_secret,
                                on_originate=self._originate, phones=tuple(settings.extension_list))
        self.driver = CallDriver(
            DriverConfig(extensions=settings.extension_list, dids=settings.did_list,
                         known_phones=settings.known_phone_list, queue=settings.queue,
                         calls_per_minute=settings.calls_per_minute, mean_talk_s=settings.mean_talk_s,
                         max_concurrent_calls=settings.max_concurrent_calls),
            random.Random(rng.getrandbits(64)), self.core.clock, self.start_call, lambda: len(self._calls),
        )
        self._calls: set[asyncio.Task[None]] = set()
        self._driver_task: asyncio.Task[None] | None = None
        #: Recording files as MixMonitor writes them, when a directory is set.
        self.recordings = None if settings.recordings_dir is None else MixMonitorWriter(
            settings.recordings_dir, random.Random(rng.getrandbits(64)))
        if self.recordings is not None:
            self.core.subscribe(self.recordings.on_frame)
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("simulator not started")
        return self._port

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    async def start(self, *, drive: bool = True) -> int:
        """Listen for AMI clients and (with ``drive`` and a positive rate) start generating calls."""
        self._port = await self.server.start(self.settings.ami_host, self.settings.ami_port)
        if drive and self.settings.calls_per_minute > 0:
            self._driver_task = asyncio.create_task(self.driver.run(), name="simulator-driver")
            self._driver_task.add_done_callback(_log_failure)
        return self._port

    def start_call(self, scenario: str, params: CallParams) -> asyncio.Task[None]:
        """Play one call in the background; its events reach every logged-in AMI client."""
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}")
        task = asyncio.create_task(play(self.core, scenario, params), name=f"simulated-{scenario}")
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        task.add_done_callback(_log_failure)
        return task

    async def wait_calls(self) -> None:
        """Until every call in progress has ended."""
        while self._calls:
            await asyncio.gather(*self._calls, return_exceptions=True)

    async def stop(self) -> None:
        tasks = [*self._calls, *([self._driver_task] if self._driver_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._driver_task = None
        if self.recordings is not None:
            await self.recordings.drain()
        await self.server.close()

    def _originate(self, request: OriginateRequest) -> None:
        if request.self_check_did:
            logger.info("Originate %s: self-check call to %s comes back from %s", request.action_id,
                        request.self_check_did, request.customer)
            self.start_call("inbound_answered", CallParams(
                customer=request.customer, did=request.self_check_did, extensions=self.settings.extension_list[:1],
                ring_s=round(self.core.rng.uniform(2.0, 8.0), 1), talk_s=5.0))
            return
        logger.info("Originate %s: ring %s, then call %s", request.action_id, request.extension, request.customer)
        params = CallParams(
            customer=request.customer, extensions=(request.extension,), display_name=request.caller_name,
            action_id=request.action_id, channel_id=request.channel_id,
            operator_ring_s=round(self.core.rng.uniform(1.0, 4.0), 1),
            ring_s=round(self.core.rng.uniform(2.0, 8.0), 1),
            talk_s=round(max(5.0, self.core.rng.expovariate(1.0 / self.settings.mean_talk_s)), 1),
            operator_hangs_up=True,
        )
        self.start_call("click_to_call", params)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("simulator task %s failed", task.get_name(), exc_info=task.exception())


async def run_simulator(settings: SimulatorSettings) -> None:
    """Run the simulator until cancelled (``perezvon simulate``; ``perezvon demo`` runs it beside the service)."""
    simulator = Simulator(settings)
    port = await simulator.start()
    logger.info("PBX simulator: AMI on %s:%d, user %s, %.1f calls/min, extensions %s",
                settings.ami_host, port, settings.ami_username, settings.calls_per_minute, settings.extensions)
    try:
        await asyncio.Event().wait()
    finally:
        await simulator.stop()

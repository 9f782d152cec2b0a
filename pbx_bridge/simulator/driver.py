"""The call driver: starts simulated calls at a rate, with a realistic, seedable mix.

Arrivals are a Poisson process (exponential gaps averaging ``60 / calls_per_minute`` seconds of
simulated time). Each call picks a scenario by weight and realistic parameters: some customers call
again (a pool of recent callers), some are the shop's known customers (if a list is given), the rest
are new mobile numbers; ring and talk times are drawn around typical values. The same seed gives the
same sequence of calls, so a demo or a load test can be replayed.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pbx_bridge.simulator.clock import SimClock
from pbx_bridge.simulator.scenarios import CallParams

logger = logging.getLogger(__name__)

#: Scenario name -> relative weight: mostly answered calls, a realistic share of missed ones.
DEFAULT_MIX: tuple[tuple[str, float], ...] = (
    ("inbound_answered", 30), ("inbound_answered_operator_hangs_up", 8), ("inbound_no_answer", 7),
    ("inbound_busy", 4), ("inbound_abandoned_while_ringing", 7), ("inbound_ringall", 8), ("inbound_failover", 6),
    ("queue_answered", 10), ("queue_abandoned", 5), ("queue_timeout", 3), ("outbound_from_operator", 9),
    ("click_to_call", 3), ("click_to_call_no_answer", 1),
    ("inbound_no_answer_then_queue_abandoned", 2), ("inbound_blind_transfer", 4), ("inbound_pickup", 3),
    ("inbound_softphone_answered", 3),
)
_NEEDS_TWO = frozenset({"inbound_ringall", "inbound_failover", "inbound_blind_transfer", "inbound_pickup"})
_NAMES = ("Иванов И.", "Петрова А.", "Сидоров П.", "Кузнецова Е.", "Морозов Д.", "Волкова О.", "Лебедев К.")
_DIAL_TIMEOUT_S = 20.0
_RECENT_CALLERS = 30


@dataclass(frozen=True, slots=True)
class DriverConfig:
    extensions: tuple[str, ...]
    dids: tuple[str, ...]
    known_phones: tuple[str, ...] = ()
    queue: str = "sales"
    calls_per_minute: float = 2.0
    mean_talk_s: float = 60.0
    max_concurrent_calls: int = 10
    mix: tuple[tuple[str, float], ...] = DEFAULT_MIX


#: Starts one call (scenario name, parameters); the driver does not wait for it.
StartCall = Callable[[str, CallParams], object]


class CallDriver:
    def __init__(self, config: DriverConfig, rng: random.Random, clock: SimClock, start_call: StartCall,
                 active_calls: Callable[[], int]) -> None:
        if not config.extensions:
            raise ValueError("the simulator needs at least one operator extension")
        self._config = config
        self._rng = rng
        self._clock = clock
        self._start_call = start_call
        self._active_calls = active_calls
        self._recent: list[str] = []
        self._order = 10233

    def next_call(self) -> tuple[str, CallParams]:
        """Draw the next call: scenario and parameters (pure apart from the driver's own random state)."""
        cfg, rng = self._config, self._rng
        names = [name for name, _ in cfg.mix if len(cfg.extensions) > 1 or name not in _NEEDS_TWO]
        weights = [weight for name, weight in cfg.mix if name in names]
        scenario = rng.choices(names, weights)[0]
        customer = self._customer()
        extensions = self._extensions(scenario)
        ring_s = {"inbound_no_answer": _DIAL_TIMEOUT_S, "queue_timeout": 30.0, "inbound_busy": 0.0}.get(
            scenario, round(rng.uniform(2.0, 12.0), 1))
        self._order += 1
        display = f"{rng.choice(_NAMES)} · заказ {self._order}" if rng.random() < 0.6 else ""
        params = CallParams(
            customer=customer, extensions=extensions, did=rng.choice(cfg.dids) if cfg.dids else "74951234501",
            ring_s=ring_s, talk_s=round(min(600.0, max(5.0, rng.expovariate(1.0 / cfg.mean_talk_s))), 1),
            first_ring_s=round(rng.uniform(8.0, 15.0), 1), operator_ring_s=round(rng.uniform(1.0, 4.0), 1),
            answering=rng.choice(extensions), display_name=display, queue=cfg.queue,
            operator_hangs_up=scenario != "inbound_answered" and rng.random() < 0.4,
            late_ringing=rng.random() < 0.5, colleague=extensions[-1],
            transfer_after_s=round(rng.uniform(5.0, 30.0), 1),
        )
        return scenario, params

    def _customer(self) -> str:
        rng, known = self._rng, self._config.known_phones
        roll = rng.random()
        if self._recent and roll < 0.25:
            return rng.choice(self._recent)
        if known and roll < 0.6:
            number = rng.choice(known)
        else:
            number = "7916" + "".join(rng.choice("0123456789") for _ in range(7))
        self._recent = [*self._recent[-(_RECENT_CALLERS - 1):], number]
        return number

    def _extensions(self, scenario: str) -> tuple[str, ...]:
        exts: Sequence[str] = self._config.extensions
        if scenario in ("inbound_ringall", "queue_answered", "queue_abandoned", "queue_timeout"):
            count = self._rng.randint(min(2, len(exts)), len(exts))
            return tuple(self._rng.sample(list(exts), count))
        if scenario in ("inbound_failover", "inbound_blind_transfer", "inbound_pickup"):
            return tuple(self._rng.sample(list(exts), 2))
        return (self._rng.choice(list(exts)),)

    async def run(self, max_calls: int | None = None) -> None:
        """Start calls until cancelled (or ``max_calls`` were started); skips a slot when at the cap."""
        rate = self._config.calls_per_minute
        if rate <= 0:
            return
        started = 0
        at = self._clock.now()
        while max_calls is None or started < max_calls:
            at += self._rng.expovariate(rate / 60.0)
            await self._clock.sleep_until(at)
            scenario, params = self.next_call()
            if self._active_calls() >= self._config.max_concurrent_calls:
                logger.info("simulator at %d calls: %s from %s skipped", self._active_calls(), scenario,
                            params.customer)
                continue
            logger.info("simulated call: %s from %s to %s", scenario, params.customer, ",".join(params.extensions))
            self._start_call(scenario, params)
            started += 1

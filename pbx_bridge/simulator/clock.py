"""Simulated time: every event ``Timestamp`` the simulator writes comes from one of these clocks.

A call script keeps its own time cursor and asks the clock to wait until the cursor; the clock
decides what waiting means: real (scaled) time for the demo, nothing at all for fast tests and load
runs, or a test's explicit ``advance`` when a test must look at a call mid-way (no sleeps in tests).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class SimClock(Protocol):
    def now(self) -> float:
        """Simulated epoch seconds."""
        ...

    async def sleep_until(self, at: float) -> None:
        """Return once simulated time has reached ``at``."""
        ...


class WallClock:
    """Real time, optionally faster (``speed`` simulated seconds per real second); starts at the real now."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._speed = speed
        self._epoch0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self._epoch0 + (time.monotonic() - self._mono0) * self._speed

    async def sleep_until(self, at: float) -> None:
        delay = (at - self.now()) / self._speed
        await asyncio.sleep(max(0.0, delay))


class FastClock:
    """Time jumps forward to whatever is awaited: a whole call plays out at once (tests, load runs)."""

    def __init__(self, start: float) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    async def sleep_until(self, at: float) -> None:
        self._now = max(self._now, at)
        await asyncio.sleep(0)


class ManualClock:
    """Time moves only when the test calls :meth:`advance`; scripts waiting on it resume in time order."""

    def __init__(self, start: float) -> None:
        self._now = start
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    async def sleep_until(self, at: float) -> None:
        if at <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((at, future))
        await future

    def advance(self, seconds: float) -> None:
        self.advance_to(self._now + seconds)

    def advance_to(self, at: float) -> None:
        self._now = max(self._now, at)
        due = sorted((w for w in self._waiters if w[0] <= self._now), key=lambda w: w[0])
        self._waiters = [w for w in self._waiters if w[0] > self._now]
        for _, future in due:
            if not future.done():
                future.set_result(None)

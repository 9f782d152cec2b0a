"""Login rate limiting: a pure sliding-window counter, time passed in by the caller.

Failed logins are counted per login name and per client address; once either reaches
the limit inside the window, further attempts are refused until old failures age out.
In-process state: with several web instances each one limits on its own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class LoginThrottle:
    max_failures: int
    window_s: float
    max_keys: int = 100_000
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, keys: list[str], now: float) -> float:
        """Seconds until an attempt is allowed for all `keys` (0 when allowed now)."""
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.max_failures:
                wait = max(wait, times[0] + self.window_s - now)
        return wait

    def record_failure(self, keys: list[str], now: float) -> None:
        if len(self._failures) >= self.max_keys:  # bounded memory under a flood of random logins
            for key in list(self._failures)[: self.max_keys // 10]:
                del self._failures[key]
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)

"""Login rate limiting: a pure sliding-window counter, time passed in by the caller.

An attempt is checked against several buckets at once, each with its own limit: the pair
(login, client address) with the configured limit, the client address alone (one address trying
many logins) and the login alone (many addresses trying one login) with higher limits, so that
someone who only knows a login cannot lock its owner out from their own address.

`reserve` counts the attempt *before* the password is checked (there is an await in between, and a
burst of parallel guesses must not all pass the check first); a successful login `release`s its
reservation. In-process state: with several web instances each one limits on its own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

#: How much more the address-only and login-only buckets allow than the (login, address) pair.
ADDRESS_FACTOR = 4
LOGIN_FACTOR = 10


@dataclass(frozen=True)
class Bucket:
    key: str
    limit: int


def login_buckets(login: str, address: str, max_failures: int) -> list[Bucket]:
    """The buckets one login attempt counts in."""
    return [Bucket(f"pair:{login}|{address}", max_failures), Bucket(f"ip:{address}", max_failures * ADDRESS_FACTOR),
            Bucket(f"login:{login}", max_failures * LOGIN_FACTOR)]


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

    def retry_after(self, buckets: list[Bucket], now: float) -> float:
        """Seconds until an attempt is allowed in all `buckets` (0 when allowed now)."""
        wait = 0.0
        for bucket in buckets:
            times = self._recent(bucket.key, now)
            if len(times) >= bucket.limit:
                wait = max(wait, times[-bucket.limit] + self.window_s - now)
        return wait

    def reserve(self, buckets: list[Bucket], now: float) -> float:
        """Count an attempt now, before it is checked; returns 0, or the seconds to wait (nothing counted).

        Check and count happen with no await in between, so parallel attempts cannot all pass.
        """
        wait = self.retry_after(buckets, now)
        if wait > 0:
            return wait
        self.record_failure(buckets, now)
        return 0.0

    def record_failure(self, buckets: list[Bucket], now: float) -> None:
        if len(self._failures) >= self.max_keys:  # bounded memory under a flood of random logins
            for key in list(self._failures)[: self.max_keys // 10]:
                del self._failures[key]
        for bucket in buckets:
            self._failures.setdefault(bucket.key, deque()).append(now)

    def release(self, buckets: list[Bucket], now: float) -> None:
        """Undo the reservation made at `now` (the attempt succeeded)."""
        for bucket in buckets:
            times = self._failures.get(bucket.key)
            if times is not None and now in times:
                times.remove(now)
                if not times:
                    del self._failures[bucket.key]

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)

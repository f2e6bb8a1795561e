"""Token buckets per key and per address, and a cap on failed authentications per address.

Everything here is per worker process and bounded in memory: the least
recently used entries are dropped when a table is full.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["FailureTracker", "RateLimiter", "TokenBucket"]

Clock = Callable[[], float]


class TokenBucket:
    """A bucket of ``burst`` tokens refilled at ``rate`` tokens per second."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; return 0 on success, else the seconds until they are there."""
        elapsed = now - self.stamp
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate


class RateLimiter:
    """Token buckets keyed by anything hashable; rate 0 disables the limiter."""

    __slots__ = ("_buckets", "_clock", "burst", "max_entries", "rate")

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        max_entries: int = 100_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.max_entries = max_entries
        self._clock = clock
        self._buckets: OrderedDict[Hashable, TokenBucket] = OrderedDict()

    def check(self, key: Hashable) -> float:
        """Charge one request to ``key``; return 0 when allowed, else the Retry-After seconds."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, now)
            if len(self._buckets) > self.max_entries:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now)


class FailureTracker:
    """Blocks an address for ``block_seconds`` after ``max_failures`` failures within ``window``."""

    __slots__ = (
        "_blocked",
        "_clock",
        "_failures",
        "block_seconds",
        "max_entries",
        "max_failures",
        "window",
    )

    def __init__(
        self,
        max_failures: int,
        window: float,
        block_seconds: float,
        *,
        max_entries: int = 100_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.block_seconds = block_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._failures: OrderedDict[Hashable, list[float]] = OrderedDict()
        self._blocked: dict[Hashable, float] = {}

    def blocked_for(self, key: Hashable) -> float:
        """Return the seconds ``key`` stays blocked (0 when it is not blocked)."""
        until = self._blocked.get(key)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._blocked[key]
            return 0.0
        return left

    def record_failure(self, key: Hashable) -> bool:
        """Count a failed authentication; return True when this failure blocks ``key``."""
        if self.max_failures <= 0:
            return False
        now = self._clock()
        stamps = self._failures.get(key)
        if stamps is None:
            stamps = self._failures[key] = []
            if len(self._failures) > self.max_entries:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(key)
        cutoff = now - self.window
        stamps[:] = [t for t in stamps if t > cutoff]
        stamps.append(now)
        if len(stamps) >= self.max_failures:
            self._blocked[key] = now + self.block_seconds
            if len(self._blocked) > self.max_entries:
                self._blocked.pop(next(iter(self._blocked)))
            stamps.clear()
            return True
        return False

"""Prometheus families of the result cache (one set per process)."""

from __future__ import annotations

import os
from functools import cache

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["CacheMetrics", "cache_metrics"]

_SECONDS = (
    0.00005,
    0.0001,
    0.0002,
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
)


class CacheMetrics:
    """Hits, misses, errors and operation latency by tier; whether Redis is reachable."""

    def __init__(self) -> None:
        self.lookups = Counter(
            "openclaw_cache_lookups",
            "Result cache lookups by tier and result",
            ("tier", "result"),
        )
        self.errors = Counter(
            "openclaw_cache_errors",
            "Failed or timed-out cache operations",
            ("tier", "op"),
        )
        self.seconds = Histogram(
            "openclaw_cache_operation_duration_seconds",
            "Time of cache operations",
            ("tier", "op"),
            buckets=_SECONDS,
        )
        kwargs = {"multiprocess_mode": "min"} if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else {}
        self.redis_up = Gauge(
            "openclaw_cache_redis_up",
            "1 when the Redis tier answers, 0 during an outage",
            **kwargs,
        )
        self.hit_lru = self.lookups.labels("lru", "hit")
        self.miss_lru = self.lookups.labels("lru", "miss")
        self.hit_redis = self.lookups.labels("redis", "hit")
        self.miss_redis = self.lookups.labels("redis", "miss")


@cache
def cache_metrics() -> CacheMetrics:
    """Return the process-wide cache metrics (registered once)."""
    return CacheMetrics()

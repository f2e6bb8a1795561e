"""The ``cache:`` section of the runtime settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CacheSettings"]


def _range(lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    return {"min": lo, "max": hi}


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """The result cache: an in-process LRU and an optional shared Redis tier."""

    # Master switch for both tiers.
    enabled: bool = True
    # In-process tier (per worker): entries and total bytes; 0 entries switches it off.
    lru_entries: int = field(default=4096, metadata=_range(0))
    lru_max_bytes: int = field(default=32 * 1024 * 1024, metadata=_range(0))
    # Redis tier: empty URL = no Redis (redis://host:6379/0, rediss://, unix://).
    redis_url: str = ""
    # File holding the Redis password (keep it out of the URL: settings get printed).
    redis_password_file: str = ""
    # Seconds a result lives (both tiers); the deployment guide asks for 5-10 minutes.
    ttl_seconds: int = field(default=300, metadata=_range(1, 3600))
    # Longest a request waits for Redis before serving uncached (milliseconds).
    redis_timeout_ms: float = field(default=50.0, metadata=_range(1, 5000))
    redis_pool_size: int = field(default=32, metadata=_range(1, 1024))
    # While Redis is down, retry it this often (seconds); requests skip it meanwhile.
    redis_retry_seconds: float = field(default=2.0, metadata=_range(0.1, 600))
    redis_prefix: str = "openclaw:cache:"
    # Results bigger than this are not cached.
    max_value_bytes: int = field(default=1024 * 1024, metadata=_range(1))
    # Models whose results are never cached (non-deterministic, sensitive).
    exclude_models: tuple[str, ...] = ()

"""The shared tier: Redis through redis-py's asyncio client, failing open.

A request never waits for Redis longer than ``redis_timeout_ms``. A refused or
broken connection, or time-outs without any success for half a second (a
burst of slow answers on a busy host is no outage), start an outage: it is logged once, the
``openclaw_cache_redis_up`` gauge drops to 0, and requests skip Redis entirely
until the retry interval has passed; then one request probes it again, and a
success of an operation started during the outage ends it (logged once as
well; late answers to operations sent before it do not count, so the state
does not flap). Writes run in the background, bounded in number.
"""

from __future__ import annotations

import asyncio
import logging
import time

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import ConfigError
from .metrics import CacheMetrics, cache_metrics
from .settings import CacheSettings

__all__ = ["RedisTier"]

_log = logging.getLogger("openclaw_runtime.cache")
_FAILURES = (RedisError, OSError, asyncio.TimeoutError)
_MAX_PENDING_WRITES = 256
# Seconds of time-outs without a success that make an outage (errors make one at once).
_SLOW_OUTAGE_SECONDS = 0.5


def _read_password(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError as exc:
        message = f"cache.redis_password_file: cannot read {path!r}: {exc.strerror}"
        raise ConfigError(message) from exc


class RedisTier:
    """Get and set cached results in Redis without ever failing or stalling a request."""

    def __init__(self, settings: CacheSettings, metrics: CacheMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or cache_metrics()
        self.timeout = settings.redis_timeout_ms / 1000.0
        self.ttl = settings.ttl_seconds
        self.prefix = settings.redis_prefix
        extra = {}
        if settings.redis_password_file:
            extra["password"] = _read_password(settings.redis_password_file)
        self._pool = BlockingConnectionPool.from_url(
            settings.redis_url,
            **extra,
            max_connections=settings.redis_pool_size,
            timeout=self.timeout,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
        )
        self._client = Redis(connection_pool=self._pool)
        self._down_since: float | None = None
        self._slow_since: float | None = None
        self._retry_at = 0.0
        self._writes: set[asyncio.Task[None]] = set()
        self.metrics.redis_up.set(1)

    @property
    def available(self) -> bool:
        """Return True unless an outage is in progress."""
        return self._down_since is None

    def _usable(self) -> bool:
        return self._down_since is None or time.monotonic() >= self._retry_at

    def _failed(self, op: str, exc: BaseException) -> None:
        self.metrics.errors.labels("redis", op).inc()
        now = time.monotonic()
        if self._down_since is None and isinstance(exc, (asyncio.TimeoutError, RedisTimeoutError)):
            if self._slow_since is None:
                self._slow_since = now
            if now - self._slow_since < max(_SLOW_OUTAGE_SECONDS, 10 * self.timeout):
                return
        self._retry_at = now + self.settings.redis_retry_seconds
        if self._down_since is None:
            self._down_since = now
            self.metrics.redis_up.set(0)
            _log.warning(
                "redis cache unavailable (%s: %s); serving uncached, retrying every %.1fs",
                type(exc).__name__,
                exc or "timeout",
                self.settings.redis_retry_seconds,
            )

    def _succeeded(self, started: float) -> None:
        self._slow_since: float | None = None
        if self._down_since is not None and started >= self._down_since:
            _log.warning(
                "redis cache available again after %.1fs",
                time.monotonic() - self._down_since,
            )
            self._down_since = None
            self.metrics.redis_up.set(1)

    async def get(self, key: str) -> bytes | None:
        """Return the cached value, or None on a miss, an error, a timeout or an outage."""
        if not self._usable():
            return None
        # A probe during an outage: push the next one out so that only one request tries.
        if self._down_since is not None:
            self._retry_at = time.monotonic() + self.settings.redis_retry_seconds
        started = time.monotonic()
        start = time.perf_counter()
        try:
            value = await asyncio.wait_for(self._client.get(self.prefix + key), self.timeout)
        except _FAILURES as exc:
            self._failed("get", exc)
            return None
        self.metrics.seconds.labels("redis", "get").observe(time.perf_counter() - start)
        self._succeeded(started)
        return value

    def put(self, key: str, value: bytes) -> None:
        """Store ``value`` in the background (skipped during an outage or when backed up)."""
        if not self._usable() or len(self._writes) >= _MAX_PENDING_WRITES:
            return
        task = asyncio.get_running_loop().create_task(self._set(key, value))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _set(self, key: str, value: bytes) -> None:
        started = time.monotonic()
        start = time.perf_counter()
        try:
            await asyncio.wait_for(
                self._client.set(self.prefix + key, value, ex=self.ttl), self.timeout
            )
        except _FAILURES as exc:
            self._failed("set", exc)
            return
        self.metrics.seconds.labels("redis", "set").observe(time.perf_counter() - start)
        self._succeeded(started)

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until the background writes started so far have finished (or failed)."""
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=timeout)

    async def close(self) -> None:
        """Wait briefly for pending writes, then close the pool."""
        await self.flush(self.timeout * 4)
        await self._client.aclose()
        await self._pool.disconnect()

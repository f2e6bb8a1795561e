"""The result cache the inference path consults before the batcher."""

from __future__ import annotations

import logging
import time

from ..protocol.types import InferenceRequest, Tensor
from .codec import decode_outputs, encode_outputs
from .hashing import cache_opt_out, request_key
from .lru import LRUCache
from .metrics import CacheMetrics, cache_metrics
from .redis_tier import RedisTier
from .settings import CacheSettings

__all__ = ["ResultCache"]

_log = logging.getLogger("openclaw_runtime.cache")


class ResultCache:
    """Two tiers (in-process LRU, then Redis); every failure degrades to a miss."""

    def __init__(
        self, settings: CacheSettings, metrics: CacheMetrics | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics or cache_metrics()
        self.enabled = settings.enabled
        self.lru = (
            LRUCache(settings.lru_entries, settings.lru_max_bytes, settings.ttl_seconds)
            if settings.enabled and settings.lru_entries > 0
            else None
        )
        self.redis = (
            RedisTier(settings, self.metrics)
            if settings.enabled and settings.redis_url
            else None
        )
        self._excluded = frozenset(settings.exclude_models)
        self._non_cacheable: set[str] = set()

    def mark_non_cacheable(self, model: str) -> None:
        """Never cache results of ``model`` (from its configuration)."""
        self._non_cacheable.add(model)

    def key(self, model: str, version: str, request: InferenceRequest) -> str | None:
        """Return the cache key of ``request``, or None when it must not be cached."""
        if not self.enabled or (self.lru is None and self.redis is None):
            return None
        if (
            model in self._excluded
            or model in self._non_cacheable
            or cache_opt_out(request)
        ):
            return None
        return request_key(model, version, request)

    async def get(self, key: str) -> list[Tensor] | None:
        """Return the cached outputs for ``key``, or None."""
        blob = None
        if self.lru is not None:
            blob = self.lru.get(key)
            (self.metrics.hit_lru if blob is not None else self.metrics.miss_lru).inc()
        if blob is None and self.redis is not None:
            blob = await self.redis.get(key)
            if blob is not None:
                self.metrics.hit_redis.inc()
                if self.lru is not None:
                    self.lru.put(key, blob)
            else:
                self.metrics.miss_redis.inc()
        if blob is None:
            return None
        try:
            return decode_outputs(blob)
        except (ValueError, KeyError, TypeError) as exc:
            self.metrics.errors.labels("codec", "decode").inc()
            _log.warning("dropping an unreadable cached result: %s", exc)
            return None

    def put(self, key: str, outputs: list[Tensor]) -> None:
        """Store ``outputs`` in both tiers (Redis in the background)."""
        start = time.perf_counter()
        blob = encode_outputs(outputs)
        if blob is None or len(blob) > self.settings.max_value_bytes:
            return
        if self.lru is not None:
            self.lru.put(key, blob)
        if self.redis is not None:
            self.redis.put(key, blob)
        self.metrics.seconds.labels("lru", "put").observe(time.perf_counter() - start)

    async def close(self) -> None:
        """Release the Redis pool."""
        if self.redis is not None:
            await self.redis.close()

"""The result cache the inference service consults after validation, before the batcher.

Implements :class:`.consult.ResultCacheProtocol`, what the inference service calls:
``get``/``put`` take the loaded model version, the validated input arrays and
the request parameters; outputs are every output of the model, in order. Keys
include the version's content digest (``LoadedModel.digest``), so replacing a
version's files under the same number never serves the old model's answers.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .codec import decode_outputs, encode_outputs
from .hashing import cache_opt_out, inputs_key, request_key, version_head
from .lru import LRUCache
from .metrics import CacheMetrics, cache_metrics
from .settings import CacheSettings

if TYPE_CHECKING:
    from .redis_tier import RedisTier

__all__ = ["ResultCache"]

_log = logging.getLogger("openclaw_runtime.cache")


class ResultCache:
    """Two tiers (in-process LRU, then Redis); every failure degrades to a miss."""

    def __init__(self, settings: CacheSettings, metrics: CacheMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or cache_metrics()
        self.lru = (
            LRUCache(settings.lru_entries, settings.lru_max_bytes, settings.ttl_seconds)
            if settings.enabled and settings.lru_entries > 0
            else None
        )
        self.redis: RedisTier | None = None
        if settings.enabled and settings.redis_url:
            # redis-py costs a worker about 5 MB: imported only when a Redis URL is set.
            from .redis_tier import RedisTier

            self.redis = RedisTier(settings, self.metrics)
        self._excluded = set(settings.exclude_models)
        # Keys of lookups that missed, by the identity of their inputs, so that the store
        # after inference does not hash the same inputs again.
        self._pending: dict[int, tuple[Mapping[str, np.ndarray], str]] = {}
        # Key heads of loaded versions (name, version, content digest, outputs), built on
        # their first request: by identity, without keeping a retired version alive.
        self._heads: dict[int, tuple[weakref.ref, bytes]] = {}

    @classmethod
    def from_settings(cls, settings: CacheSettings) -> ResultCache | None:
        """Return the cache the settings describe, or None when no tier is on."""
        cache = cls(settings)
        return cache if cache.active else None

    @property
    def active(self) -> bool:
        """Return True when at least one tier is configured."""
        return self.lru is not None or self.redis is not None

    def key(
        self,
        model: str,
        version: Any,
        inputs: Mapping[str, np.ndarray],
        parameters: Any,
        *,
        digest: str,
        outputs: Sequence[str] = (),
    ) -> str | None:
        """Return the cache key, or None when this request or model must not be cached."""
        if not self.active or model in self._excluded or cache_opt_out(parameters):
            return None
        return request_key(model, str(version), inputs, parameters, digest=digest, outputs=outputs)

    def _model_key(
        self, model: Any, inputs: Mapping[str, np.ndarray], parameters: Any
    ) -> str | None:
        """Return the key of ``inputs`` on a loaded version (its head built once), or None."""
        if not self.active or model.name in self._excluded or cache_opt_out(parameters):
            return None
        entry = self._heads.get(id(model))
        if entry is None or entry[0]() is not model:
            if len(self._heads) >= 256:  # retired versions
                self._heads.clear()
            # The digest of the version's files was taken at load time, not per request.
            head = version_head(model.name, str(model.version), model.digest, model.output_names)
            entry = self._heads[id(model)] = (weakref.ref(model), head)
        return inputs_key(entry[1], inputs, parameters)

    async def lookup(self, key: str) -> list[np.ndarray] | None:
        """Return the cached outputs for ``key``, or None."""
        if self.lru is not None:
            found = self.lru.get(key)
            if found is not None:
                self.metrics.hit_lru.inc()
                return list(found)
            self.metrics.miss_lru.inc()
        if self.redis is None:
            return None
        blob = await self.redis.get(key)
        if blob is None:
            self.metrics.miss_redis.inc()
            return None
        self.metrics.hit_redis.inc()
        try:
            outputs = decode_outputs(blob)
        except (ValueError, KeyError, TypeError) as exc:
            self.metrics.errors.labels("codec", "decode").inc()
            _log.warning("dropping an unreadable cached result: %s", exc)
            return None
        if self.lru is not None:
            self.lru.put(key, tuple(outputs), sum(o.nbytes for o in outputs))
        return outputs

    def store(self, key: str, outputs: Sequence[np.ndarray]) -> None:
        """Store ``outputs`` in both tiers (Redis in the background)."""
        size = sum(o.nbytes for o in outputs)
        if size > self.settings.max_value_bytes or any(o.dtype == object for o in outputs):
            return
        if self.lru is not None:
            # Own copies: the batcher's outputs are views of a whole batch.
            frozen = tuple(np.array(o, copy=True) for o in outputs)
            for arr in frozen:
                arr.flags.writeable = False
            self.lru.put(key, frozen, size)
        if self.redis is not None:
            blob = encode_outputs(outputs)
            if blob is not None:
                self.redis.put(key, blob)

    # --- ResultCacheProtocol (what the inference service calls) --------------------------

    async def get(
        self, model: Any, inputs: Mapping[str, np.ndarray], parameters: Any
    ) -> list[np.ndarray] | None:
        """Return cached outputs of ``model`` (a loaded version) for ``inputs``, or None."""
        if not _cacheable(model):
            return None
        key = self._model_key(model, inputs, parameters)
        if key is None:
            return None
        found = await self.lookup(key)
        if found is None:
            if len(self._pending) >= 1024:  # requests that failed after a miss
                self._pending.clear()
            self._pending[id(inputs)] = (inputs, key)
        return found

    async def put(
        self,
        model: Any,
        inputs: Mapping[str, np.ndarray],
        parameters: Any,
        outputs: Sequence[np.ndarray],
    ) -> None:
        """Store the outputs of ``model`` for ``inputs`` (no-op when not cacheable)."""
        if not _cacheable(model):
            return
        pending = self._pending.pop(id(inputs), None)
        if pending is not None and pending[0] is inputs:
            key: str | None = pending[1]
        else:
            key = self._model_key(model, inputs, parameters)
        if key is not None:
            self.store(key, outputs)

    async def close(self) -> None:
        """Release the Redis pool."""
        if self.redis is not None:
            await self.redis.close()


def _cacheable(model: Any) -> bool:
    """Return False when the model's own config.yaml says ``cache: false``."""
    config = getattr(model, "config", None)
    return getattr(config, "cache", True) is not False

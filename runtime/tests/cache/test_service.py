"""The two-tier result cache without a Redis server: LRU hits, opt-outs, fail-open Redis."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass

import numpy as np

from openclaw_runtime.cache import CacheSettings, ResultCache, cache_metrics


@dataclass
class Model:
    name: str = "digits"
    version: int = 1


FEEDS = {"input": np.ones((1, 64), dtype=np.float32)}
OUT = [np.array([[0.5, 0.5]], dtype=np.float32)]


def _counter(tier, result):
    return cache_metrics().lookups.labels(tier, result)._value.get()


async def test_lru_hit_after_put():
    cache = ResultCache(CacheSettings())
    hits = _counter("lru", "hit")
    assert await cache.get(Model(), FEEDS, {}) is None
    await cache.put(Model(), FEEDS, {}, OUT)
    found = await cache.get(Model(), FEEDS, {"timeout": 100})
    assert np.array_equal(found[0], OUT[0])
    assert _counter("lru", "hit") == hits + 1
    assert await cache.get(Model(version=2), FEEDS, {}) is None


async def test_opt_out_per_request_and_per_model():
    cache = ResultCache(CacheSettings(exclude_models=("secret",)))
    await cache.put(Model(), FEEDS, {"cache": False}, OUT)
    assert await cache.get(Model(), FEEDS, {}) is None
    await cache.put(Model("secret"), FEEDS, {}, OUT)
    assert await cache.get(Model("secret"), FEEDS, {}) is None
    cache.mark_non_cacheable("digits")
    await cache.put(Model(), FEEDS, {}, OUT)
    assert await cache.get(Model(), FEEDS, {}) is None


async def test_disabled_cache_is_inert():
    cache = ResultCache(CacheSettings(enabled=False))
    assert not cache.active
    await cache.put(Model(), FEEDS, {}, OUT)
    assert await cache.get(Model(), FEEDS, {}) is None


async def test_oversized_results_not_cached():
    cache = ResultCache(CacheSettings(max_value_bytes=64))
    big = [np.zeros(1000, dtype=np.float32)]
    await cache.put(Model(), FEEDS, {}, big)
    assert await cache.get(Model(), FEEDS, {}) is None


def _silent_port() -> tuple[socket.socket, int]:
    """A listening socket that never answers: Redis 'hangs'."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock, sock.getsockname()[1]


async def test_hung_redis_costs_at_most_the_timeout_and_logs_once(caplog):
    sock, port = _silent_port()
    try:
        settings = CacheSettings(
            lru_entries=0,
            redis_url=f"redis://127.0.0.1:{port}/0",
            redis_timeout_ms=50,
            redis_retry_seconds=60,
        )
        cache = ResultCache(settings)
        caplog.set_level(logging.WARNING, "openclaw_runtime.cache")
        # Slow answers are no outage at once; time-outs for half a second are.
        start = time.perf_counter()
        assert await cache.get(Model(), FEEDS, {}) is None
        assert time.perf_counter() - start < 0.5
        assert cache.redis.available
        deadline = time.monotonic() + 2
        while cache.redis.available and time.monotonic() < deadline:
            start = time.perf_counter()
            assert await cache.get(Model(), FEEDS, {}) is None
            assert time.perf_counter() - start < 0.2  # each costs at most the time-out
        assert not cache.redis.available
        assert cache_metrics().redis_up._value.get() == 0
        # During the outage requests skip Redis entirely.
        start = time.perf_counter()
        for _ in range(100):
            assert await cache.get(Model(), FEEDS, {}) is None
            await cache.put(Model(), FEEDS, {}, OUT)
        assert time.perf_counter() - start < 0.1
        assert caplog.text.count("redis cache unavailable") == 1
        await cache.close()
    finally:
        sock.close()


async def test_refused_redis_fails_open_fast():
    sock, port = _silent_port()
    sock.close()  # nothing listens: connection refused
    cache = ResultCache(CacheSettings(redis_url=f"redis://127.0.0.1:{port}/0", redis_timeout_ms=50))
    await cache.put(Model(), FEEDS, {}, OUT)
    await asyncio.sleep(0.1)
    found = await cache.get(Model(), FEEDS, {})  # the LRU still serves
    assert found is not None
    await cache.close()


async def test_lru_hit_returns_read_only_copies_not_batch_views():
    cache = ResultCache(CacheSettings())
    batch = np.arange(8, dtype=np.float32).reshape(4, 2)
    await cache.put(Model(), FEEDS, {}, [batch[1:2]])
    batch[1, 0] = 99  # the batcher reuses or frees its buffers
    (found,) = await cache.get(Model(), FEEDS, {})
    assert found.tolist() == [[2.0, 3.0]]
    assert not found.flags.writeable
    assert found.base is None or found.base.nbytes == found.nbytes

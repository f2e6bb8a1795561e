"""The two-tier result cache without a Redis server: LRU hits, opt-outs, fail-open Redis."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import yaml

from openclaw_runtime.cache import CacheSettings, ResultCache, cache_metrics


@dataclass
class Model:
    name: str = "digits"
    version: int = 1
    digest: str = "d" * 64
    output_names: list[str] = field(default_factory=lambda: ["probabilities"])
    config: Any = None


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


async def test_replaced_files_or_reordered_outputs_miss():
    """Same name and version, other files (digest) or output order: the old entry is not served."""
    cache = ResultCache(CacheSettings())
    await cache.put(Model(), FEEDS, {}, OUT)
    assert await cache.get(Model(), FEEDS, {}) is not None
    assert await cache.get(Model(digest="e" * 64), FEEDS, {}) is None
    assert await cache.get(Model(output_names=["label"]), FEEDS, {}) is None


async def test_retired_versions_are_not_kept_alive_nor_confused_by_address():
    cache = ResultCache(CacheSettings())
    retired = [Model(digest="a" * 64) for _ in range(100)]
    addresses, refs = {id(m) for m in retired}, [weakref.ref(m) for m in retired]
    for model in retired:
        await cache.put(model, FEEDS, {}, OUT)
    del model, retired
    gc.collect()
    assert all(ref() is None for ref in refs)  # the cache keeps no served version alive
    # New versions (other files), some at the addresses of retired ones (CPython reuses
    # freed memory): none may be answered with a retired version's entry.
    # Other allocations of the run may take some freed blocks first, so allocate
    # until one lands on a retired address (bounded), keeping every one alive.
    serving, reused = [], False
    while (len(serving) < 1000 or not reused) and len(serving) < 200_000:
        serving.append(Model(digest="b" * 64))
        reused = reused or id(serving[-1]) in addresses
    assert reused
    for model in serving:
        assert await cache.get(model, FEEDS, {}) is None


async def test_opt_out_per_request_and_per_model():
    cache = ResultCache(CacheSettings(exclude_models=("secret",)))
    await cache.put(Model(), FEEDS, {"cache": False}, OUT)
    assert await cache.get(Model(), FEEDS, {}) is None
    await cache.put(Model("secret"), FEEDS, {}, OUT)
    assert await cache.get(Model("secret"), FEEDS, {}) is None


async def test_model_config_cache_false_is_never_cached():
    from openclaw_runtime.models.modelconfig import parse_model_config

    def loaded(name: str, config_yaml: str) -> Model:
        return Model(name, config=parse_model_config(yaml.safe_load(config_yaml), name=name))

    cache = ResultCache(CacheSettings())
    private = loaded("private", "cache: false\n")
    await cache.put(private, FEEDS, {}, OUT)
    assert await cache.get(private, FEEDS, {}) is None
    assert cache.lru is not None and len(cache.lru) == 0
    # The same request to a model without the flag is cached: the flag, not the setup, decides.
    public = loaded("public", "max_batch_size: 8\n")
    assert public.config.cache is True
    await cache.put(public, FEEDS, {}, OUT)
    assert await cache.get(public, FEEDS, {}) is not None


def test_model_config_cache_must_be_a_boolean():
    from openclaw_runtime.errors import ModelConfigError
    from openclaw_runtime.models.modelconfig import parse_model_config

    with pytest.raises(ModelConfigError, match="cache"):
        parse_model_config({"cache": "sometimes"}, name="m")


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
        timeouts = cache_metrics().errors.labels("redis", "get")
        caplog.set_level(logging.WARNING, "openclaw_runtime.cache")

        async def lookup():
            # The outer bound only turns a hang into a failure; the tier's own time-out ends it.
            return await asyncio.wait_for(cache.get(Model(), FEEDS, {}), 30)

        # Slow answers are no outage at once; time-outs for half a second are.
        before = timeouts._value.get()
        assert await lookup() is None
        assert timeouts._value.get() == before + 1  # ended by the time-out
        assert cache.redis.available
        for _ in range(1000):  # each costs one 50 ms time-out: about 10 until the outage
            if not cache.redis.available:
                break
            before = timeouts._value.get()
            assert await lookup() is None
            assert timeouts._value.get() == before + 1
        assert not cache.redis.available
        assert cache_metrics().redis_up._value.get() == 0
        # During the outage requests skip Redis entirely: no more time-outs, no writes.
        write_timeouts = cache_metrics().errors.labels("redis", "set")
        before, writes_before = timeouts._value.get(), write_timeouts._value.get()
        for _ in range(100):
            assert await lookup() is None
            await cache.put(Model(), FEEDS, {}, OUT)
        await cache.redis.flush()
        assert timeouts._value.get() == before
        assert write_timeouts._value.get() == writes_before
        assert caplog.text.count("redis cache unavailable") == 1
        await cache.close()
    finally:
        sock.close()


async def test_refused_redis_fails_open_fast():
    sock, port = _silent_port()
    sock.close()  # nothing listens: connection refused
    cache = ResultCache(CacheSettings(redis_url=f"redis://127.0.0.1:{port}/0", redis_timeout_ms=50))
    await cache.put(Model(), FEEDS, {}, OUT)
    await cache.redis.flush()
    assert not cache.redis.available  # a refused connection is an outage at once
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

"""The result cache against a real redis-server: hit/miss, TTL, Redis killed under load and back.

redis-server comes from Debian's package (installed when missing) and listens
on a free loopback port for the duration of the module.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from cache.demo_swap import BODY, favouring, label_of, replace_model

from .secserver import RedisServer, RuntimeServer, request

pytestmark = pytest.mark.integration

TTL = 3


def _body(seed: float, **params) -> dict:
    body = {
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [seed] * 64}]
    }
    if params:
        body["parameters"] = params
    return body


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    srv = RedisServer(tmp_path_factory.mktemp("redis"))
    srv.start()
    yield srv
    srv.kill()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory, demo_onnx, redis_server):
    from openclaw_runtime.models.demo import build_demo_model

    root = tmp_path_factory.mktemp("cache")
    build_demo_model(root / "repo", onnx_bytes=demo_onnx)
    srv = RuntimeServer(
        root / "srv",
        root / "repo",
        {
            "cache": {
                "redis_url": redis_server.url,
                "ttl_seconds": TTL,
                "lru_entries": 0,  # every lookup goes to Redis, so the tests see it
                # Generous: on a busy machine a 50 ms budget turns hits into misses. A killed
                # Redis refuses connections at once, whatever the time-out.
                "redis_timeout_ms": 2000,
                "redis_retry_seconds": 0.5,
            }
        },
    )
    srv.client_key = srv.create_key("inference-client", name="app")["key"]
    srv.observer_key = srv.create_key("observer", name="prom")["key"]
    srv.start()
    yield srv
    srv.stop()


def _metric(srv, name: str, **labels: str) -> float:
    status, _, raw = request(srv.port, "GET", "/metrics", key=srv.observer_key)
    assert status == 200
    total = 0.0
    for line in raw.decode().splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _infer(srv, body) -> dict:
    status, _, raw = request(
        srv.port, "POST", "/v2/models/digits/infer", key=srv.client_key, body=body
    )
    assert status == 200, raw
    return json.loads(raw)


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_miss_then_hit_and_opt_out(runtime, redis_server):
    r = redis_server.client()
    r.flushall()
    hits = _metric(runtime, "openclaw_cache_lookups_total", tier="redis", result="hit")
    first = _infer(runtime, _body(0.25))
    assert _wait_for(lambda: r.dbsize() == 1)
    second = _infer(runtime, {**_body(0.25), "id": "again"})
    assert second["outputs"] == first["outputs"] and second["id"] == "again"
    assert _metric(runtime, "openclaw_cache_lookups_total", tier="redis", result="hit") == hits + 1
    (key,) = r.keys("openclaw:cache:*")
    assert 0 < r.ttl(key) <= TTL
    # Opting out: neither read (the lookup counters are updated before the answer)...
    lookups = _metric(runtime, "openclaw_cache_lookups_total", tier="redis")
    _infer(runtime, _body(0.75, cache=False))
    assert _metric(runtime, "openclaw_cache_lookups_total", tier="redis") == lookups
    # ...nor written: a cacheable request sent after it is stored, and only it.
    _infer(runtime, _body(0.5))
    assert _wait_for(lambda: r.dbsize() >= 2)
    assert r.dbsize() == 2 and key in r.keys("openclaw:cache:*")


def test_ttl_expiry(runtime, redis_server):
    r = redis_server.client()
    r.flushall()
    _infer(runtime, _body(0.5))
    assert _wait_for(lambda: r.dbsize() == 1)
    misses = _metric(runtime, "openclaw_cache_lookups_total", tier="redis", result="miss")
    assert _wait_for(lambda: r.dbsize() == 0, timeout=TTL + 60)
    _infer(runtime, _body(0.5))
    after = _metric(runtime, "openclaw_cache_lookups_total", tier="redis", result="miss")
    assert after == misses + 1


def test_replaced_model_is_not_answered_from_redis(tmp_path, demo_onnx, redis_server):
    """Same model name and version, new files: Redis (shared by replicas) holds the old answer."""
    from openclaw_runtime.models.demo import build_demo_model

    r = redis_server.client()
    r.flushall()
    version_dir = build_demo_model(tmp_path / "repo", onnx_bytes=demo_onnx)
    srv = RuntimeServer(
        tmp_path / "srv",
        tmp_path / "repo",
        {"cache": {"redis_url": redis_server.url, "lru_entries": 0, "redis_timeout_ms": 2000}},
    )
    srv.client_key = srv.create_key("inference-client", name="app")["key"]
    srv.observer_key = srv.create_key("observer", name="prom")["key"]
    deployer = srv.create_key("model-manager", name="deploy")["key"]
    srv.start()
    try:
        old = label_of(_infer(srv, BODY))
        assert _wait_for(lambda: r.dbsize() == 1)
        hits = _metric(srv, "openclaw_cache_lookups_total", tier="redis", result="hit")
        assert label_of(_infer(srv, BODY)) == old
        assert _metric(srv, "openclaw_cache_lookups_total", tier="redis", result="hit") == hits + 1

        new = (old + 1) % 10
        replace_model(version_dir, favouring(demo_onnx, new))
        status, _, raw = request(
            srv.port, "POST", "/v2/repository/models/digits/load", key=deployer
        )
        assert status == 200, raw
        uncached = {**BODY, "parameters": {"cache": False}}
        assert label_of(_infer(srv, uncached)) == new  # the reload happened
        assert label_of(_infer(srv, BODY)) == new
        # Stored under a new key beside the old model's entry, then served from Redis.
        assert _wait_for(lambda: r.dbsize() == 2)
        hits = _metric(srv, "openclaw_cache_lookups_total", tier="redis", result="hit")
        assert label_of(_infer(srv, BODY)) == new
        assert _metric(srv, "openclaw_cache_lookups_total", tier="redis", result="hit") == hits + 1
    finally:
        srv.stop()


class _Load:
    """Concurrent requests over a pool of 40 distinct inputs until stopped."""

    def __init__(self, srv, concurrency: int = 16) -> None:
        self.srv = srv
        self.concurrency = concurrency
        self.count = 0
        self.failures: list[int] = []
        self.halt = asyncio.Event()

    async def run(self) -> None:
        bodies = [json.dumps(_body(i / 40)).encode() for i in range(40)]
        url = f"http://127.0.0.1:{self.srv.port}/v2/models/digits/infer"
        headers = {
            "Authorization": f"Bearer {self.srv.client_key}",
            "Content-Type": "application/json",
        }

        async def worker(session, n):
            i = n
            while not self.halt.is_set():
                i += 7
                try:
                    async with session.post(url, data=bodies[i % 40], headers=headers) as resp:
                        await resp.read()
                        if resp.status != 200:
                            self.failures.append(resp.status)
                except (TimeoutError, aiohttp.ClientError):
                    self.failures.append(-1)
                self.count += 1

        # A request that hangs fails (-1) instead of stalling the test.
        timeout = aiohttp.ClientTimeout(total=30)
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as s:
            await asyncio.gather(*(worker(s, n) for n in range(self.concurrency)))


async def _until(predicate, timeout: float = 120) -> bool:
    """Poll ``predicate`` without blocking the load running on the same loop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


async def test_redis_killed_under_load_then_back(runtime, redis_server):
    r = redis_server.client()
    r.flushall()
    load = _Load(runtime)
    task = asyncio.create_task(load.run())
    try:
        # Kill it while the load is using it (results of 10 inputs stored).
        assert await _until(lambda: r.dbsize() >= 10)
        errors = _metric(runtime, "openclaw_cache_errors_total", tier="redis")
        get_errors = _metric(runtime, "openclaw_cache_errors_total", tier="redis", op="get")
        redis_server.kill()
        killed_at, count_at_kill = time.monotonic(), load.count
        assert await _until(lambda: load.count >= count_at_kill + 300)
        outage = time.monotonic() - killed_at
        assert _metric(runtime, "openclaw_cache_redis_up") == 0
    finally:
        load.halt.set()
        await task
    assert load.failures == []
    assert _metric(runtime, "openclaw_cache_errors_total", tier="redis") > errors
    # During the outage requests skip Redis: only those in flight when it died (16 at most)
    # and one probe per retry interval (0.5 s) tried it, not each of the 300 requests.
    failed_gets = (
        _metric(runtime, "openclaw_cache_errors_total", tier="redis", op="get") - get_errors
    )
    assert failed_gets <= 16 + outage / 0.5 + 1, (failed_gets, outage)

    redis_server.start()  # same port, empty
    load = _Load(runtime)
    task = asyncio.create_task(load.run())
    try:
        assert await _until(lambda: r.dbsize() > 0)  # the cache resumed by itself
        assert await _until(lambda: _metric(runtime, "openclaw_cache_redis_up") == 1)
    finally:
        load.halt.set()
        await task
    assert load.failures == [] and load.count > 0
    log = runtime.log_text()
    assert log.count("redis cache unavailable") == 1  # once per outage, not per request
    assert log.count("redis cache available again") == 1


def test_password_from_file(tmp_path):
    """A Redis with requirepass: the password comes from cache.redis_password_file."""
    from openclaw_runtime.cache import CacheSettings, ResultCache

    srv = RedisServer(tmp_path / "redis")
    srv.start(password="s3cret-pw")
    try:
        pw = tmp_path / "redis.pw"
        pw.write_text("s3cret-pw\n")

        async def roundtrip(settings):
            cache = ResultCache(settings)
            key = "k" * 64
            cache.redis.put(key, b"value")
            await cache.redis.flush()
            found = await cache.redis.get(key)
            await cache.close()
            return found

        common = {"redis_url": srv.url, "lru_entries": 0, "redis_timeout_ms": 2000}
        good = CacheSettings(redis_password_file=str(pw), **common)
        assert asyncio.run(roundtrip(good)) == b"value"
        bad = CacheSettings(**common)
        assert asyncio.run(roundtrip(bad)) is None  # refused, served uncached
    finally:
        srv.kill()

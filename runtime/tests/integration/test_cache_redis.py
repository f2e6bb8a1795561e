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
                "redis_timeout_ms": 50,
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
    # Opting out: neither read nor written.
    _infer(runtime, _body(0.75, cache=False))
    time.sleep(0.3)
    assert r.dbsize() == 1
    assert _metric(runtime, "openclaw_cache_lookups_total", tier="redis", result="hit") == hits + 1
    (key,) = r.keys("openclaw:cache:*")
    assert 0 < r.ttl(key) <= TTL


def test_ttl_expiry(runtime, redis_server):
    r = redis_server.client()
    r.flushall()
    _infer(runtime, _body(0.5))
    assert _wait_for(lambda: r.dbsize() == 1)
    misses = _metric(runtime, "openclaw_cache_lookups_total", tier="redis", result="miss")
    assert _wait_for(lambda: r.dbsize() == 0, timeout=TTL + 2)
    _infer(runtime, _body(0.5))
    after = _metric(runtime, "openclaw_cache_lookups_total", tier="redis", result="miss")
    assert after == misses + 1


async def _load(srv, seconds: float, concurrency: int = 16) -> tuple[int, list[int], float]:
    """Send requests over a pool of 40 distinct inputs; return count, failures, worst latency."""
    bodies = [json.dumps(_body(i / 40)).encode() for i in range(40)]
    url = f"http://127.0.0.1:{srv.port}/v2/models/digits/infer"
    headers = {"Authorization": f"Bearer {srv.client_key}", "Content-Type": "application/json"}
    failures: list[int] = []
    count = 0
    worst = 0.0
    stop_at = time.monotonic() + seconds

    async def worker(session, n):
        nonlocal count, worst
        i = n
        while time.monotonic() < stop_at:
            i += 7
            start = time.perf_counter()
            try:
                async with session.post(url, data=bodies[i % 40], headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        failures.append(resp.status)
            except aiohttp.ClientError:
                failures.append(-1)
            worst = max(worst, time.perf_counter() - start)
            count += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        await asyncio.gather(*(worker(s, n) for n in range(concurrency)))
    return count, failures, worst


async def test_redis_killed_under_load_then_back(runtime, redis_server):
    redis_server.client().flushall()
    load = asyncio.create_task(_load(runtime, seconds=4.0))
    await asyncio.sleep(1.5)
    redis_server.kill()
    count, failures, worst = await load
    assert count > 200
    assert failures == []
    assert worst < 1.0  # a dead Redis costs at most its timeout, once per retry interval
    assert _metric(runtime, "openclaw_cache_redis_up") == 0
    assert _metric(runtime, "openclaw_cache_errors_total", tier="redis") > 0

    redis_server.start()  # same port, empty
    count, failures, _ = await _load(runtime, seconds=2.0)
    assert failures == []
    r = redis_server.client()
    assert _wait_for(lambda: r.dbsize() > 0)
    assert _metric(runtime, "openclaw_cache_redis_up") == 1
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
            await asyncio.sleep(0.2)
            found = await cache.redis.get(key)
            await cache.close()
            return found

        good = CacheSettings(redis_url=srv.url, redis_password_file=str(pw), lru_entries=0)
        assert asyncio.run(roundtrip(good)) == b"value"
        bad = CacheSettings(redis_url=srv.url, lru_entries=0)
        assert asyncio.run(roundtrip(bad)) is None  # refused, served uncached
    finally:
        srv.kill()

"""Under load the queue-depth and in-flight gauges move, and /stats times every batch phase."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from openclaw_runtime.models.demo import N_FEATURES, build_demo_model

from .conftest import start_server

pytestmark = pytest.mark.integration

REQUEST = {
    "inputs": [
        {"name": "input", "datatype": "FP32", "shape": [1, N_FEATURES], "data": [0.5] * N_FEATURES}
    ]
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, demo_onnx):
    """One worker running batches in a thread, so requests queue while a batch runs."""
    tmp = tmp_path_factory.mktemp("load-metrics")
    repo = tmp / "repo"
    build_demo_model(repo, onnx_bytes=demo_onnx)
    srv = start_server(tmp, repo, extra="batching: {execution: thread}\n")
    yield srv
    assert srv.stop() == 0, srv.log.read_text()[-3000:]


def _gauges(text: str) -> tuple[float, float]:
    """Return (queue depth of digits version 1, requests in flight) from /metrics."""
    depth = flight = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "openclaw_queue_depth" and sample.labels == {
                "model": "digits",
                "version": "1",
            }:
                depth = sample.value
            elif sample.name == "openclaw_requests_in_flight":
                flight = sample.value
    assert depth is not None and flight is not None, text[:2000]
    return depth, flight


async def _load_and_scrape(port: int, seconds: float) -> tuple[list[int], list[tuple]]:
    base = f"http://127.0.0.1:{port}"
    statuses: list[int] = []
    scraped: list[tuple[float, float]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        done = asyncio.Event()

        async def client() -> None:
            while not done.is_set():
                async with session.post(f"{base}/v2/models/digits/infer", json=REQUEST) as r:
                    await r.read()
                    statuses.append(r.status)

        async def scraper() -> None:
            while not done.is_set():
                async with session.get(f"{base}/metrics") as r:
                    scraped.append(_gauges(await r.text()))
                await asyncio.sleep(0.01)

        tasks = [asyncio.create_task(client()) for _ in range(64)]
        tasks.append(asyncio.create_task(scraper()))
        await asyncio.sleep(seconds)
        done.set()
        await asyncio.gather(*tasks)
    return statuses, scraped


def test_queue_depth_and_in_flight_move_under_load_and_return_to_zero(loaded):
    statuses, scraped = asyncio.run(_load_and_scrape(loaded.port, 3.0))
    assert statuses and set(statuses) == {200}
    assert max(depth for depth, _ in scraped) > 0, scraped
    assert max(flight for _, flight in scraped) > 0, scraped
    status, _, raw = loaded.request("GET", "/metrics")
    assert status == 200 and _gauges(raw.decode()) == (0, 0)


def test_stats_time_input_and_output_of_every_batch(loaded):
    # Load of its own: the test must not depend on another one running first.
    statuses, _ = asyncio.run(_load_and_scrape(loaded.port, 0.5))
    assert statuses and set(statuses) == {200}
    status, doc = loaded.json("GET", "/v2/models/digits/stats")
    assert status == 200
    (entry,) = doc["model_stats"]
    stats = entry["inference_stats"]
    requests = stats["success"]["count"]
    assert requests > 0
    for phase in ("compute_input", "compute_infer", "compute_output"):
        assert stats[phase]["count"] == requests, (phase, stats)
        assert stats[phase]["ns"] > 0, (phase, stats)
    for size in entry["batch_stats"]:
        for phase in ("compute_input", "compute_infer", "compute_output"):
            assert size[phase]["count"] == size["compute_infer"]["count"] > 0, size
            assert size[phase]["ns"] > 0, size

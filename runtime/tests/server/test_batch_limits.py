"""batching.max_batch_size bounds the batches of models that set none; a model's own value wins."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import yaml

from openclaw_runtime.models.demo import N_FEATURES, build_demo_model, demo_config

from .conftest import start_server

pytestmark = pytest.mark.integration

SERVER_MAX = 4
MODEL_MAX = 16


def _request(rows: int) -> dict:
    return {
        "inputs": [
            {
                "name": "input",
                "datatype": "FP32",
                "shape": [rows, N_FEATURES],
                "data": [0.5] * (rows * N_FEATURES),
            }
        ]
    }


@pytest.fixture(scope="module")
def limited(tmp_path_factory, demo_onnx):
    """One worker, batching.max_batch_size 4; ``digits`` sets none, ``wide`` sets 16."""
    tmp = tmp_path_factory.mktemp("limits")
    repo = tmp / "repo"
    for name, own in (("digits", None), ("wide", MODEL_MAX)):
        config = demo_config()
        del config["max_batch_size"]
        if own is not None:
            config["max_batch_size"] = own
        (repo / name).mkdir(parents=True)
        (repo / name / "config.yaml").write_text(yaml.safe_dump(config))
        build_demo_model(repo, name=name, onnx_bytes=demo_onnx)
    # Thread execution: requests keep arriving while a batch runs, so batches fill up.
    srv = start_server(
        tmp, repo, extra=f"batching: {{max_batch_size: {SERVER_MAX}, execution: thread}}\n"
    )
    yield srv
    assert srv.stop() == 0, srv.log.read_text()[-3000:]


async def _load(port: int, model: str, concurrency: int, rounds: int) -> list[int]:
    url = f"http://127.0.0.1:{port}/v2/models/{model}/infer"
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> int:
            async with session.post(url, json=_request(1)) as resp:
                await resp.read()
                return resp.status

        statuses: list[int] = []
        for _ in range(rounds):
            statuses += await asyncio.gather(*(one() for _ in range(concurrency)))
    return statuses


def _batch_sizes(server, model: str) -> dict[int, int]:
    """Return {batch size: batches run} from the model's /stats."""
    status, doc = server.json("GET", f"/v2/models/{model}/stats")
    assert status == 200, doc
    (entry,) = doc["model_stats"]
    return {b["batch_size"]: b["compute_infer"]["count"] for b in entry["batch_stats"]}


def _batches_of_load(server, model: str) -> dict[int, int]:
    """Send 4 rounds of 64 concurrent one-row requests; return the batches they formed."""
    before = _batch_sizes(server, model)
    statuses = asyncio.run(_load(server.port, model, concurrency=64, rounds=4))
    assert statuses == [200] * 256
    after = _batch_sizes(server, model)
    formed = {s: n - before.get(s, 0) for s, n in after.items() if n > before.get(s, 0)}
    assert sum(s * n for s, n in formed.items()) == 256, formed
    return formed


def test_model_config_reports_the_limit_in_force(limited):
    assert limited.json("GET", "/v2/models/digits/config")[1]["max_batch_size"] == SERVER_MAX
    assert limited.json("GET", "/v2/models/wide/config")[1]["max_batch_size"] == MODEL_MAX


def test_a_request_above_the_server_limit_is_refused_unless_the_model_allows_it(limited):
    status, out = limited.json("POST", "/v2/models/digits/infer", _request(SERVER_MAX + 1))
    assert status == 400 and f"exceeds max_batch_size {SERVER_MAX}" in out["error"]
    status, out = limited.json("POST", "/v2/models/wide/infer", _request(MODEL_MAX))
    assert status == 200, out
    assert out["outputs"][0]["shape"][0] == MODEL_MAX


def test_concurrent_load_never_forms_a_batch_above_the_server_limit(limited):
    sizes = _batches_of_load(limited, "digits")
    assert max(sizes) > 1, f"no batching happened under load: {sizes}"
    assert max(sizes) <= SERVER_MAX, f"batches above batching.max_batch_size: {sizes}"


def test_a_model_with_its_own_limit_batches_beyond_the_server_limit(limited):
    sizes = _batches_of_load(limited, "wide")
    assert SERVER_MAX < max(sizes) <= MODEL_MAX, sizes

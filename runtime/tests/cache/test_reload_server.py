"""A real server: a version replaced under the same number never answers from the old cache."""

from __future__ import annotations

import pytest
from integration.secserver import RuntimeServer, request

from openclaw_runtime.models.demo import build_demo_model

from .demo_swap import BODY, favouring, label_of, replace_model

pytestmark = pytest.mark.integration

INFER = "/v2/models/digits/infer"


def _metric(srv, name: str, **labels: str) -> float:
    status, _, raw = request(srv.port, "GET", "/metrics", key=srv.observer_key)
    assert status == 200
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in raw.decode().splitlines()
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items())
    )


def test_lru_serves_the_replaced_model_after_a_reload(tmp_path, demo_onnx):
    version_dir = build_demo_model(tmp_path / "repo", onnx_bytes=demo_onnx)
    # The in-process tier only (the default cache section: LRU on, no Redis).
    srv = RuntimeServer(tmp_path / "srv", tmp_path / "repo")
    srv.client_key = srv.create_key("inference-client", name="app")["key"]
    srv.observer_key = srv.create_key("observer", name="prom")["key"]
    deployer = srv.create_key("model-manager", name="deploy")["key"]
    srv.start()
    try:
        status, _, raw = request(srv.port, "POST", INFER, key=srv.client_key, body=BODY)
        assert status == 200, raw
        old = label_of(raw)
        hits = _metric(srv, "openclaw_cache_lookups_total", tier="lru", result="hit")
        status, _, raw = request(srv.port, "POST", INFER, key=srv.client_key, body=BODY)
        assert status == 200 and label_of(raw) == old
        assert _metric(srv, "openclaw_cache_lookups_total", tier="lru", result="hit") == hits + 1

        new = (old + 1) % 10
        replace_model(version_dir, favouring(demo_onnx, new))
        status, _, raw = request(
            srv.port, "POST", "/v2/repository/models/digits/load", key=deployer
        )
        assert status == 200, raw
        # The reload happened: an uncached request gets the new model's answer...
        uncached = {**BODY, "parameters": {"cache": False}}
        status, _, raw = request(srv.port, "POST", INFER, key=srv.client_key, body=uncached)
        assert status == 200 and label_of(raw) == new, raw
        # ...and so does the request cached before it (a miss, then a hit on the new entry).
        for _ in range(2):
            status, _, raw = request(srv.port, "POST", INFER, key=srv.client_key, body=BODY)
            assert status == 200 and label_of(raw) == new, raw
    finally:
        srv.stop()

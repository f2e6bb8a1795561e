"""Health, metadata, configuration, statistics, repository and metrics endpoints."""

from __future__ import annotations

import http.client
import json
import time

import numpy as np

ROW = [0.5] * 64


def infer_doc(rows: int = 1):
    return {
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [rows, 64], "data": ROW * rows}]
    }


def test_health(server):
    assert server.json("GET", "/v2/health/live") == (200, {"live": True})
    assert server.json("GET", "/v2/health/ready") == (200, {"ready": True})


def test_server_metadata_lists_the_extensions(server):
    status, doc = server.json("GET", "/v2")
    assert status == 200 and doc["name"] == "openclaw-runtime"
    assert set(doc["extensions"]) == {
        "binary_tensor_data",
        "model_repository",
        "statistics",
        "model_configuration",
        "parameters",
        "classification",
    }


def test_classification_caps_k_and_rejects_bad_values(server):
    doc = infer_doc(2)
    doc["outputs"] = [
        {"name": "label"},
        {"name": "probabilities", "parameters": {"classification": 50}},
    ]
    status, body = server.json("POST", "/v2/models/digits/infer", doc)
    assert status == 200, body
    by_name = {o["name"]: o for o in body["outputs"]}
    assert by_name["label"]["datatype"] == "INT64"
    top = by_name["probabilities"]
    assert top["datatype"] == "BYTES" and top["shape"] == [2, 10]  # capped at 10 classes
    first = top["data"][0].split(":")
    assert int(first[1]) == by_name["label"]["data"][0] and first[2] == first[1]
    for bad in (0, -1, "3", True, 1.5):
        doc["outputs"] = [{"name": "probabilities", "parameters": {"classification": bad}}]
        status, body = server.json("POST", "/v2/models/digits/infer", doc)
        assert status == 400 and "classification must be a positive integer" in body["error"]


def test_model_metadata_and_config(server):
    status, meta = server.json("GET", "/v2/models/digits")
    assert status == 200
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}]
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    assert server.json("GET", "/v2/models/digits/versions/1")[1]["name"] == "digits"
    status, cfg = server.json("GET", "/v2/models/digits/config")
    assert cfg["max_batch_size"] == 32
    assert cfg["input"] == [{"name": "input", "data_type": "TYPE_FP32", "dims": [64]}]


def test_model_ready(server):
    assert server.json("GET", "/v2/models/digits/ready") == (200, {"name": "digits", "ready": True})
    assert server.json("GET", "/v2/models/digits/versions/1/ready")[0] == 200


def test_unknown_model_and_version_are_404_with_json_error(server):
    for path in ("/v2/models/nope", "/v2/models/digits/versions/9", "/v2/models/nope/ready"):
        status, headers, body = server.request("GET", path)
        assert status == 404, path
        assert headers["Content-Type"] == "application/json"
        assert "error" in json.loads(body)
    status, doc = server.json("POST", "/v2/models/nope/infer", infer_doc())
    assert status == 404 and "unknown model 'nope'" in doc["error"]
    status, doc = server.json("POST", "/v2/models/digits/versions/3/infer", infer_doc())
    assert status == 404 and "version '3'" in doc["error"]


def test_infer_response_shape_and_id_echo(server):
    doc = infer_doc(2)
    doc["id"] = "abc"
    status, out = server.json("POST", "/v2/models/digits/versions/1/infer", doc)
    assert status == 200
    assert out["model_name"] == "digits" and out["model_version"] == "1" and out["id"] == "abc"
    label, probs = out["outputs"]
    assert label["shape"] == [2] and probs["shape"] == [2, 10]
    assert abs(sum(probs["data"][:10]) - 1) < 1e-3


def test_output_selection(server):
    doc = infer_doc()
    doc["outputs"] = [{"name": "label"}]
    status, out = server.json("POST", "/v2/models/digits/infer", doc)
    assert status == 200 and [o["name"] for o in out["outputs"]] == ["label"]
    doc["outputs"] = [{"name": "nope"}]
    status, out = server.json("POST", "/v2/models/digits/infer", doc)
    assert status == 400 and "unknown output" in out["error"]


def test_statistics_in_triton_shape(server):
    # One keep-alive connection: the query reaches the worker that served the requests.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for _ in range(3):
            conn.request("POST", "/v2/models/digits/infer", json.dumps(infer_doc()).encode())
            resp = conn.getresponse()
            assert resp.status == 200, resp.read()
            resp.read()
        conn.request("GET", "/v2/models/digits/stats")
        resp = conn.getresponse()
        status, doc = resp.status, json.loads(resp.read())
    finally:
        conn.close()
    assert status == 200
    [entry] = doc["model_stats"]
    assert entry["name"] == "digits" and entry["version"] == "1"
    stats = entry["inference_stats"]
    assert set(stats) >= {"success", "fail", "queue", "compute_infer"}
    assert stats["success"]["count"] >= 1 and stats["success"]["ns"] > 0
    assert entry["batch_stats"] and entry["batch_stats"][0]["batch_size"] >= 1
    assert server.json("GET", "/v2/models/stats")[0] == 200
    assert server.json("GET", "/v2/models/digits/versions/1/stats")[0] == 200
    assert server.json("GET", "/v2/models/nope/stats")[0] == 404


def _success_count(server) -> int:
    status, doc = server.json("GET", "/v2/models/digits/versions/1/stats")
    assert status == 200
    [entry] = doc["model_stats"]
    return entry["inference_stats"]["success"]["count"]


def test_statistics_cover_every_worker(server):
    """40 requests on 40 connections spread over both workers; every worker reports all."""
    time.sleep(1.2)  # siblings publish every 0.5 s: let earlier tests' counts settle
    before = {_success_count(server) for _ in range(6)}
    assert len(before) == 1, f"workers disagree before the test: {before}"
    for _ in range(40):
        status, _ = server.json("POST", "/v2/models/digits/infer", infer_doc())
        assert status == 200
    time.sleep(1.2)
    after = [_success_count(server) for _ in range(10)]  # new connections: both workers
    assert after == [before.pop() + 40] * 10


def test_repository_index(server):
    status, index = server.json("POST", "/v2/repository/index")
    assert status == 200
    assert {"name": "digits", "version": "1", "state": "READY", "reason": ""} in index
    status, index = server.json("POST", "/v2/repository/index", {"ready": True})
    assert all(e["state"] == "READY" for e in index)


def test_repository_load_of_unknown_model_is_404(server):
    status, doc = server.json("POST", "/v2/repository/models/nope/load")
    assert status == 404 and "nope" in doc["error"]


def test_metrics_are_aggregated_prometheus_text(server):
    for _ in range(4):
        server.json("POST", "/v2/models/digits/infer", infer_doc())
    status, headers, body = server.request("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    text = body.decode()
    for family in (
        "openclaw_inference_requests_total",
        "openclaw_request_duration_seconds_bucket",
        "openclaw_batch_size_bucket",
        "openclaw_model_loaded",
        "openclaw_process_rss_bytes",
        "openclaw_queue_duration_seconds",
    ):
        assert family in text, family
    success = [
        line
        for line in text.splitlines()
        if line.startswith("openclaw_inference_requests_total{") and 'outcome="success"' in line
    ]
    assert success and float(success[0].rsplit(" ", 1)[1]) >= 4


def test_request_id_is_returned(server):
    _, headers, _ = server.request("GET", "/v2", headers={"X-Request-ID": "rid-7"})
    assert headers["X-Request-ID"] == "rid-7"


def test_nan_inputs_via_binary_are_served(server):
    arr = np.full((1, 64), np.nan, np.float32)
    raw = arr.tobytes()
    header = (
        b'{"inputs":[{"name":"input","datatype":"FP32","shape":[1,64],'
        b'"parameters":{"binary_data_size":%d}}]}' % len(raw)
    )
    status, _, body = server.request(
        "POST",
        "/v2/models/digits/infer",
        header + raw,
        {"Inference-Header-Content-Length": str(len(header))},
    )
    assert status == 200, body

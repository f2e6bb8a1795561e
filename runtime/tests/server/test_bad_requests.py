"""Malformed, mismatched and hostile requests get clear 4xx answers and never hurt a worker."""

from __future__ import annotations

import gzip
import http.client
import json
import time

import numpy as np
import pytest

PATH = "/v2/models/digits/infer"


def doc(shape=(1, 64), datatype="FP32", data=None, name="input"):
    n = int(np.prod(shape))
    return {
        "inputs": [
            {
                "name": name,
                "datatype": datatype,
                "shape": list(shape),
                "data": data if data is not None else [0.5] * n,
            }
        ]
    }


def post(server, body: bytes, headers=None):
    status, hdrs, raw = server.request("POST", PATH, body, headers)
    return status, hdrs, json.loads(raw) if raw else None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (b"{}", "non-empty 'inputs'"),
        (json.dumps({"inputs": [{"datatype": "FP32"}]}).encode(), "string 'name'"),
        (json.dumps(doc(datatype="FP99")).encode(), "datatype 'FP99' is not one of"),
        (
            json.dumps(
                {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64]}]}
            ).encode(),
            "needs 'data'",
        ),
        (json.dumps(doc(shape=(1, 64), data=[1, 2, 3])).encode(), "needs 64 values, data has 3"),
        (json.dumps(doc(data=["a"] * 64)).encode(), "not a (nested) list of FP32"),
        (
            b'{"inputs":[{"name":"input","datatype":"FP32","shape":[1,64],"data":[NaN]}]}',
            "no NaN or Infinity",
        ),
    ],
)
def test_malformed_bodies_are_400_with_a_message(server, body, fragment):
    status, headers, out = post(server, body)
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert fragment in out["error"]


def test_wrong_shape_names_expected_and_given(server):
    status, _, out = post(server, json.dumps(doc(shape=(1, 63))).encode())
    assert status == 400
    assert "shape [1, 63] given" in out["error"] and "expects [-1, 64]" in out["error"]


def test_wrong_datatype_names_expected_and_given(server):
    status, _, out = post(server, json.dumps(doc(datatype="INT32", data=[1] * 64)).encode())
    assert status == 400 and "datatype INT32 given" in out["error"] and "FP32" in out["error"]


def test_unknown_and_missing_inputs(server):
    status, _, out = post(server, json.dumps(doc(name="pixels")).encode())
    assert status == 400 and "unknown input 'pixels'" in out["error"]


def test_empty_batch_is_refused(server):
    status, _, out = post(server, json.dumps(doc(shape=(0, 64), data=[])).encode())
    assert status == 400 and "empty batch" in out["error"]


def test_more_rows_than_max_batch_size(server):
    status, _, out = post(server, json.dumps(doc(shape=(33, 64))).encode())
    assert status == 400 and "exceeds max_batch_size 32" in out["error"]


def test_body_over_the_limit_is_413_json(server):
    status, headers, out = post(server, b"[" + b"0," * 600_000 + b"0]")
    assert status == 413 and headers["Content-Type"] == "application/json"
    assert "limit" in out["error"]


def test_gzip_bomb_is_413(server):
    bomb = gzip.compress(b" " * 5_000_000)
    status, _, _ = post(server, bomb, {"Content-Encoding": "gzip"})
    assert status == 413


def test_corrupt_gzip_is_a_client_error(server):
    status, headers, _ = post(server, b"definitely not gzip", {"Content-Encoding": "gzip"})
    assert 400 <= status < 500 and headers["Content-Type"] == "application/json"


def test_unsupported_content_type_is_415(server):
    status, _, out = post(server, b"<xml/>", {"Content-Type": "application/xml"})
    assert status == 415 and "Content-Type" in out["error"]


@pytest.mark.parametrize("value", ["abc", "-5", "999999"])
def test_bad_inference_header_length(server, value):
    status, _, out = post(
        server, json.dumps(doc()).encode(), {"Inference-Header-Content-Length": value}
    )
    assert status == 400 and "Inference-Header-Content-Length" in out["error"]


def test_binary_size_that_does_not_fit(server):
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "datatype": "FP32",
                    "shape": [1, 64],
                    "parameters": {"binary_data_size": 4096},
                }
            ]
        }
    ).encode()
    status, _, out = post(
        server, header + b"\0" * 16, {"Inference-Header-Content-Length": str(len(header))}
    )
    assert status == 400 and "binary_data_size" in out["error"]


def test_raw_binary_mode(server):
    raw = np.zeros((3, 64), np.float32).tobytes()
    status, _, body = server.request("POST", PATH, raw, {"Inference-Header-Content-Length": "0"})
    assert status == 200, body
    assert json.loads(body)["outputs"][0]["shape"] == [3]
    status, _, body = server.request(
        "POST", PATH, raw[:-1], {"Inference-Header-Content-Length": "0"}
    )
    assert status == 400 and b"whole number" in body


def test_unknown_route_and_method_are_json(server):
    status, headers, _ = server.request("GET", "/v3/nothing")
    assert status == 404 and headers["Content-Type"] == "application/json"
    status, headers, _ = server.request("DELETE", PATH)
    assert status == 405 and headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "path",
    [
        "/v2/models//infer",
        "/v2/models/digits/extra/infer",
        "/v2/models/digits/versions//infer",
        "/v2/models/digits/versions/1/extra/infer",
        "/v2/models/digits/infer/",
    ],
)
def test_malformed_infer_urls_are_json_404(server, path):
    # Infer URLs skip the router; anything else that looks like one must still reach it.
    status, headers, raw = server.request("POST", path, json.dumps(doc()).encode())
    assert status == 404, raw
    assert headers["Content-Type"] == "application/json" and "error" in json.loads(raw)
    assert headers["X-Request-ID"]


def test_refusals_are_logged_with_their_own_request_id_and_model(server):
    # Two requests on one keep-alive connection: each log line names its own request
    # id, and the second (no model in its path) does not carry the first one's model.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for rid, path, body in (
            ("rid-shape", PATH, json.dumps(doc(shape=(1, 3), data=[1, 2, 3])).encode()),
            ("rid-index", "/v2/repository/index", b"{not json"),
        ):
            conn.request("POST", path, body=body, headers={"X-Request-ID": rid})
            response = conn.getresponse()
            response.read()
            assert response.status == 400
    finally:
        conn.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = {}
        for line in server.log.read_text(errors="replace").splitlines():
            if '"rid-' in line and "request refused" in line:
                entry = json.loads(line)
                lines[entry["request_id"]] = entry
        if len(lines) == 2:
            break
        time.sleep(0.1)
    assert lines["rid-shape"].get("model") == "digits"
    assert "model" not in lines["rid-index"], lines["rid-index"]


def test_infinity_via_binary_is_served_and_json_output_stays_valid(server):
    arr = np.full((1, 64), np.inf, np.float32)
    raw = arr.tobytes()
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "datatype": "FP32",
                    "shape": [1, 64],
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        }
    ).encode()
    status, _, body = server.request(
        "POST", PATH, header + raw, {"Inference-Header-Content-Length": str(len(header))}
    )
    assert status == 200
    json.loads(body)  # non-finite outputs are null, so the JSON stays valid


def test_server_survives_all_of_the_above(server):
    status, _, out = post(server, json.dumps(doc()).encode())
    assert status == 200 and out["outputs"][0]["shape"] == [1]
    assert server.proc.poll() is None
    log = server.log.read_text()
    assert "worker exited" not in log and "unhandled error" not in log

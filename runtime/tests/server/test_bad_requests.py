"""Malformed, mismatched and hostile requests get clear 4xx answers and never hurt a worker."""

from __future__ import annotations

import gzip
import http.client
import json
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from openclaw_runtime.models.demo import build_demo_model

from .conftest import ready_workers, start_server

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


def binary_body(shape, datatype: str, raw: bytes, name: str = "input", **extra) -> tuple:
    """Return (body, headers) of a binary-extension request with one input."""
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": name,
                    "datatype": datatype,
                    "shape": list(shape),
                    "parameters": {"binary_data_size": len(raw)},
                }
            ],
            **extra,
        }
    ).encode()
    return header + raw, {"Inference-Header-Content-Length": str(len(header))}


def json_body(shape, datatype: str, data) -> tuple:
    body = {"inputs": [{"name": "input", "datatype": datatype, "shape": shape, "data": data}]}
    return json.dumps(body).encode(), None


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for pid {pid}")


ONE_BYTES_ELEMENT = struct.pack("<I", 1) + b"a"

# The review's attacks: each is a 400 that names the limit, at once, with nothing allocated.
HOSTILE = {
    # 108 bytes that made a worker allocate 16 GiB (np.empty of 2**31 objects).
    "bytes-2**31": (binary_body([2**31], "BYTES", ONE_BYTES_ELEMENT), "server.max_tensor_elements"),
    "bytes-2**40": (binary_body([2**40], "BYTES", ONE_BYTES_ELEMENT), "server.max_tensor_elements"),
    # Under the element limit but not under the data: the old decoder built 128 MiB here.
    "bytes-2**24": (binary_body([2**24], "BYTES", ONE_BYTES_ELEMENT), "room for at most 1"),
    "fp32-2**31": (binary_body([2**31], "FP32", b"\0" * 4), "server.max_tensor_elements"),
    "json-2**31": (json_body([2**31], "FP32", [1.0]), "server.max_tensor_elements"),
    "json-70-dims": (json_body([1] * 70, "FP32", [1.0]), "70 dimensions, more than the 16"),
    "binary-70-dims": (
        binary_body([1] * 70, "FP32", b"\0" * 4),
        "70 dimensions, more than the 16",
    ),
    "json-empty-giant": (json_body([0, 2**62, 2**62], "FP32", []), "non-zero dimensions"),
    "binary-empty-giant": (binary_body([0, 2**62, 2**62], "FP32", b""), "non-zero dimensions"),
    "binary-negative": (binary_body([-1, 64], "FP32", b""), "non-negative ints"),
    "json-negative": (json_body([-(2**62), 64], "FP32", []), "non-negative ints"),
}


@pytest.mark.parametrize("attack", list(HOSTILE))
def test_hostile_shapes_are_400_at_once_and_allocate_nothing(server, attack):
    (body, headers), fragment = HOSTILE[attack]
    workers = sorted(ready_workers(server.log))
    before = {pid: peak_rss_kib(pid) for pid in workers}
    # Several times: with two workers, each one gets some.
    for _ in range(4):
        start = time.monotonic()
        status, _, out = post(server, body, headers)
        elapsed = time.monotonic() - start
        assert status == 400, out
        assert fragment in out["error"], out["error"]
        assert "input 'input'" in out["error"]
        assert elapsed < 1.0, f"{attack} took {elapsed:.2f} s"
    grown = {pid: peak_rss_kib(pid) - before[pid] for pid in workers}
    assert max(grown.values()) < 32 * 1024, f"peak RSS grew (KiB per worker pid): {grown}"


def _infer_json_output(server, body, headers) -> dict:
    status, _, raw = server.request("POST", PATH, body, headers)
    assert status == 200, raw
    return {o["name"]: o for o in json.loads(raw)["outputs"]}


NON_FINITE_ROW = np.array([np.nan, np.inf, -np.inf] + [0.5] * 61, np.float32).reshape(1, 64)


@pytest.mark.parametrize("encoding", ["binary", "json"])
def test_non_finite_inputs_are_served_and_non_finite_outputs_are_not_lost(server, encoding):
    if encoding == "binary":
        body, headers = binary_body([1, 64], "FP32", NON_FINITE_ROW.tobytes())
    else:  # JSON has no NaN literal: the strings numpy (and this server) read as floats
        data = ["NaN", "Infinity", "-Infinity"] + [0.5] * 61
        body, headers = json_body([1, 64], "FP32", data)
    outputs = _infer_json_output(server, body, headers)
    probs = outputs["probabilities"]["data"]
    assert None not in probs  # the old encoding: NaN silently became null
    assert "NaN" in probs, probs  # the demo MLP turns a NaN pixel into NaN scores
    assert np.isnan(np.array(probs, np.float32)).any()  # tritonclient's as_numpy reads it back


def test_non_finite_outputs_are_exact_in_binary(server):
    body, headers = binary_body(
        [1, 64],
        "FP32",
        NON_FINITE_ROW.tobytes(),
        outputs=[{"name": "probabilities", "parameters": {"binary_data": True}}],
    )
    status, hdrs, raw = server.request("POST", PATH, body, headers)
    assert status == 200, raw
    length = int(hdrs["Inference-Header-Content-Length"])
    assert np.isnan(np.frombuffer(raw[length:], "<f4")).any()


@pytest.fixture(scope="module")
def big_body_server(tmp_path_factory, demo_onnx, monkeypatch_module):
    """One worker that takes 32 MiB bodies and decodes those of 1 MiB or more in a thread."""
    tmp = tmp_path_factory.mktemp("big-body")
    build_demo_model(tmp / "repo", onnx_bytes=demo_onnx)
    monkeypatch_module.setenv("OPENCLAW_SERVER_MAX_BODY_BYTES", str(32 << 20))
    monkeypatch_module.setenv("OPENCLAW_SERVER_DECODE_IN_THREAD_BYTES", str(1 << 20))
    srv = start_server(tmp, tmp / "repo", workers=1)
    yield srv
    assert srv.stop() == 0, srv.log.read_text()[-3000:]


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_small_requests_are_served_while_a_big_body_decodes(big_body_server):
    # 16 MiB of empty BYTES elements: a second or more of decoding (a Python loop) that
    # used to hold the event loop, and every other request on the worker, until it ended.
    count = 4 << 20
    big, big_headers = binary_body([count], "BYTES", b"\0" * (4 * count))
    done: dict[str, float] = {}

    def send_big():
        status, _, out = post(big_body_server, big, big_headers)
        done["big"] = time.monotonic()
        done["big_status"] = status
        done["big_error"] = out["error"]

    sender = threading.Thread(target=send_big)
    small = json.dumps(doc()).encode()
    assert post(big_body_server, small)[0] == 200  # warm: the small path is ready
    sender.start()
    time.sleep(0.3)  # the big body is uploaded (16 MiB on loopback) and decoding
    latencies = []
    for _ in range(5):
        start = time.monotonic()
        status, _, _ = post(big_body_server, small)
        latencies.append(time.monotonic() - start)
        assert status == 200
    small_done = time.monotonic()
    sender.join(60)
    # The big request is decoded (then refused by the model: it takes FP32, not BYTES).
    assert done["big_status"] == 400 and "BYTES" in done["big_error"], done
    assert small_done < done["big"], (
        f"the small requests waited for the big body's decoding: they ended "
        f"{small_done - done['big']:.2f} s after it; latencies {latencies}"
    )


def test_server_survives_all_of_the_above(server):
    status, _, out = post(server, json.dumps(doc()).encode())
    assert status == 200 and out["outputs"][0]["shape"] == [1]
    assert server.proc.poll() is None
    log = server.log.read_text()
    assert "worker exited" not in log and "unhandled error" not in log

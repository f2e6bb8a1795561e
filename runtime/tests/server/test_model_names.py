"""Model names and versions in paths: one spelling per model, checked before anything uses it.

aiohttp's router matches the path with %2F still encoded and then decodes it in
the model segment; the runtime classifies on that same form and refuses a name
with a slash, a dot segment or any character outside the allowed set (400),
so no second spelling of a model reaches the repository or the file system.
Also here: how much of a caller's input an error message or X-Request-ID repeats.
"""

from __future__ import annotations

import http.client
import json

import pytest
import yaml
from aiohttp import web

from openclaw_runtime.auth.rbac import ROUTES
from openclaw_runtime.http import handlers
from openclaw_runtime.models.demo import build_demo_model, demo_config

from .conftest import start_server

INFER = json.dumps(
    {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [0.5] * 64}]}
).encode()
RULE = "use 1-128 characters from A-Z a-z 0-9 _ . -, starting with a letter or digit"


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_onnx):
    """One worker (its repository index is the whole truth) with an on-demand model."""
    tmp = tmp_path_factory.mktemp("names")
    repo = tmp / "repo"
    build_demo_model(repo, onnx_bytes=demo_onnx)
    (repo / "lazy").mkdir(parents=True)
    (repo / "lazy" / "config.yaml").write_text(
        yaml.safe_dump(demo_config() | {"load": "on_demand"})
    )
    build_demo_model(repo, name="lazy", onnx_bytes=demo_onnx)
    build_demo_model(tmp, name="outside", onnx_bytes=demo_onnx)  # beside the repository
    srv = start_server(tmp, repo, workers=1)
    yield srv
    assert srv.stop() == 0, srv.log.read_text()[-3000:]


def index(server) -> list[tuple[str, str, str]]:
    status, doc = server.json("POST", "/v2/repository/index")
    assert status == 200
    return [(e["name"], e["version"], e["state"]) for e in doc]


def test_router_and_classifier_know_the_same_routes():
    app = web.Application()
    handlers.add_routes(app)
    registered = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD"  # added by aiohttp beside every GET
    }
    assert registered == {(method, template) for method, template, _, _ in ROUTES}


@pytest.mark.parametrize(
    "alias",
    [
        "lazy%2F",
        "lazy%2f",
        ".%2Flazy",
        "%2E%2Flazy",
        "lazy%2F%2E",
        "..%2Frepo%2Flazy",
        "%2E%2E%2Frepo%2Flazy",
        "lazy%252F",
        "lazy%00",
        "lazy%20",
        "-lazy",
    ],
)
def test_an_encoded_alias_is_400_and_loads_nothing(server, alias):
    for method, path, body in (
        ("POST", f"/v2/models/{alias}/infer", INFER),
        ("POST", f"/v2/models/{alias}/versions/1/infer", INFER),
        ("GET", f"/v2/models/{alias}", None),
        ("GET", f"/v2/models/{alias}/ready", None),
        ("GET", f"/v2/models/{alias}/config", None),
        ("GET", f"/v2/models/{alias}/stats", None),
        ("POST", f"/v2/repository/models/{alias}/load", None),
        ("POST", f"/v2/repository/models/{alias}/unload", None),
    ):
        status, headers, raw = server.request(method, path, body)
        assert status == 400, (method, path, raw)
        assert headers["Content-Type"] == "application/json"
        assert RULE in json.loads(raw)["error"], raw
    assert ("lazy", "1", "READY") not in index(server)
    assert {name for name, _, _ in index(server)} == {"digits", "lazy"}


@pytest.mark.parametrize(
    "path",
    [
        "/v2/models/./lazy/infer",
        "/v2/models/lazy//infer",
        "/v2/models//lazy/infer",
        "//v2/models/lazy/infer",
        "/v2//models/lazy/infer",
        "/v2/models/x/../lazy/infer",
    ],
)
def test_an_alias_with_extra_segments_is_no_endpoint(server, path):
    status, headers, raw = server.request("POST", path, INFER)
    assert status == 404, raw
    assert headers["Content-Type"] == "application/json"
    assert {name for name, _, _ in index(server)} == {"digits", "lazy"}
    assert ("lazy", "1", "READY") not in index(server)


def test_the_on_demand_model_loads_once_by_its_name(server):
    status, _, raw = server.request("POST", "/v2/models/lazy/infer", INFER)
    assert status == 200, raw
    assert json.loads(raw)["model_name"] == "lazy"
    assert index(server) == [("digits", "1", "READY"), ("lazy", "1", "READY")]
    status, _, raw = server.request("POST", "/v2/models/lazy/versions/1/infer", INFER)
    assert status == 200, raw


@pytest.mark.parametrize(
    "path",
    [
        "/v2/models/..%2Foutside/config",
        "/v2/models/%2E%2E%2Foutside/config",
        "/v2/models/..%2Foutside",
        "/v2/models/%2E%2E/config",
        "/v2/models/..%2F..%2Fetc/config",
    ],
)
def test_no_path_reaches_outside_the_repository(server, path):
    status, _, raw = server.request("GET", path)
    assert status == 400, raw
    error = json.loads(raw)["error"]
    assert RULE in error and str(server.repo.parent) not in error


@pytest.mark.parametrize(
    ("version", "status"),
    [("1%2F", 400), ("%2E%2E", 400), ("1.0", 400), ("%D9%A1", 400), ("1" * 20, 400), ("7", 404)],
)
def test_versions_are_digits(server, version, status):
    got, _, raw = server.request("POST", f"/v2/models/digits/versions/{version}/infer", INFER)
    assert got == status, raw
    if status == 400:
        assert "use 1-19 digits" in json.loads(raw)["error"]


def test_echoed_input_is_cut_to_about_200_characters(server):
    long_name = "a" * 3000
    status, _, raw = server.request("POST", f"/v2/models/{long_name}/infer", INFER)
    assert status == 400
    error = json.loads(raw)["error"]
    assert "a" * 200 in error and len(error) < 400, len(error)
    status, _, raw = server.request(
        "POST", "/v2/models/digits/infer", INFER, {"Content-Type": "text/" + "x" * 3000}
    )
    assert status == 415
    error = json.loads(raw)["error"]
    assert "text/xxx" in error and len(error) < 400, len(error)
    for value in ("9" * 3000, "x" * 3000):
        status, _, raw = server.request(
            "POST", "/v2/models/digits/infer", INFER, {"Inference-Header-Content-Length": value}
        )
        assert status == 400
        error = json.loads(raw)["error"]
        assert "must be an integer" in error and len(error) < 400, len(error)


def raw_request_id(server, value: bytes) -> str:
    """Send X-Request-ID as these exact bytes; return the X-Request-ID of the answer."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest("GET", "/v2")
        conn.putheader("X-Request-ID", value)
        conn.endheaders()
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        return response.getheader("X-Request-ID")
    finally:
        conn.close()


def test_a_request_id_of_200_printable_characters_is_kept(server):
    rid = ("rid-" + "0123456789" * 20)[:200]
    assert raw_request_id(server, rid.encode()) == rid
    assert raw_request_id(server, b"a b~!") == "a b~!"


@pytest.mark.parametrize(
    "value",
    [b"r" * 201, b"r" * 4000, b"rid\tx", "rid-\u00e9".encode(), "\u2603".encode()],
)
def test_a_long_or_non_printable_request_id_is_replaced(server, value):
    echoed = raw_request_id(server, value)
    assert echoed.encode("latin-1") != value
    # A generated id: <worker pid in hex>-<counter>.
    pid, _, counter = echoed.partition("-")
    int(pid, 16), int(counter)

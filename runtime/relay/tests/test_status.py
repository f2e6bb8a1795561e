"""The status page's data: Prometheus and Alertmanager stand-ins over real HTTP."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from openclaw_relay.config import settings_from_dict
from openclaw_relay.errors import ConfigError
from openclaw_relay.http import build_app
from openclaw_relay.status import MODELS, queries


def _matrix(host: str, values: list) -> dict:
    return {"metric": {"host": host}, "values": values}


class Sources:
    """Prometheus's query API and Alertmanager's alerts, canned; records the queries."""

    def __init__(self) -> None:
        self.queries: list[dict] = []
        q = queries(60)
        self.range = {
            q["rate"]: [_matrix("h1", [[100, "5"], [130, "7.5"]]), _matrix("h2", [[130, "1"]])],
            q["p50"]: [_matrix("h1", [[100, "0.002"], [130, "NaN"]])],
            q["p99"]: [_matrix("h1", [[100, "0.01"], [130, "0.012"]])],
        }
        self.instant = {
            MODELS: [
                {"metric": {"host": "h1", "model": "digits", "version": "2"}, "value": [1, "1"]},
                {"metric": {"host": "h1", "model": "digits", "version": "1"}, "value": [1, "1"]},
            ],
            'sum by (host) (up{job="openclaw-runtime"})': [
                {"metric": {"host": "h1"}, "value": [1, "2"]},
                {"metric": {"host": "h2"}, "value": [1, "0"]},
            ],
            'count by (host) (up{job="openclaw-runtime"})': [
                {"metric": {"host": "h1"}, "value": [1, "2"]},
                {"metric": {"host": "h2"}, "value": [1, "2"]},
            ],
        }
        self.alerts = [
            {
                "labels": {
                    "alertname": "OpenClawReplicaDown",
                    "severity": "critical",
                    "host": "h2",
                    "instance": "h2:8001",
                },
                "annotations": {"summary": "down"},
                "startsAt": "2026-12-05T07:00:00Z",
            },
            {
                "labels": {
                    "alertname": "OpenClawExporterDown",
                    "severity": "warning",
                    "host": "mon",
                    "instance": "mon:9100",
                },
                "annotations": {},
                "startsAt": "2026-12-05T07:00:00Z",
            },
        ]

    async def query_range(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        result = self.range.get(request.query["query"], [])
        return web.json_response(
            {"status": "success", "data": {"resultType": "matrix", "result": result}}
        )

    async def query(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        result = self.instant.get(request.query["query"], [])
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    async def am(self, request: web.Request) -> web.Response:
        assert request.query["active"] == "true"
        return web.json_response(self.alerts)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/query_range", self.query_range)
        app.router.add_get("/api/v1/query", self.query)
        app.router.add_get("/api/v2/alerts", self.am)
        return app


@pytest.fixture
async def sources():
    state = Sources()
    server = TestServer(state.app())
    await server.start_server()
    state.base = str(server.make_url("")).rstrip("/")
    yield state
    await server.close()


async def _status(status: dict):
    server = TestServer(build_app(settings_from_dict({"status": status})))
    await server.start_server()
    return server


async def _get(server, path: str):
    async with ClientSession() as http, http.get(server.make_url(path)) as resp:
        return resp.status, resp.headers, await resp.read()


async def test_data_groups_series_models_alerts_and_reports_by_host(sources, tmp_path):
    (tmp_path / "h1.json").write_text(
        json.dumps(
            {
                "host": "h1",
                "time": "2026-12-05T06:00:00Z",
                "passed": True,
                "p99_ms": 9.5,
                "achieved_rate": 200.0,
                "error_pct": 0.0,
                "wrk_raw": "not shown",
            }
        )
    )
    (tmp_path / "broken.json").write_text("{not json")
    server = await _status(
        {
            "prometheus": sources.base,
            "alertmanager": sources.base,
            "loadgate_dir": str(tmp_path),
            "window": "1h",
            "step": "30s",
            "rate_window": "1m",
        }
    )
    try:
        status, _, body = await _get(server, "/status/data")
    finally:
        await server.close()
    assert status == 200
    doc = json.loads(body)
    assert doc["errors"] == [] and doc["window"] == 3600 and doc["step"] == 30
    h1, h2 = doc["hosts"]
    assert (h1["host"], h2["host"]) == ("h1", "h2")
    assert h1["series"]["rate"] == [[100, 5.0], [130, 7.5]]
    assert h1["series"]["p50"] == [[100, 0.002], [130, None]]  # NaN (no requests) -> null
    assert h1["models"] == [
        {"model": "digits", "version": "1"},
        {"model": "digits", "version": "2"},
    ]
    assert (h1["replicas_up"], h1["replicas"], h2["replicas_up"]) == (2, 2, 0)
    assert [a["name"] for a in h2["alerts"]] == ["OpenClawReplicaDown"] and h1["alerts"] == []
    assert [a["name"] for a in doc["other_alerts"]] == ["OpenClawExporterDown"]
    assert h1["loadgate"]["passed"] is True and h1["loadgate"]["p99_ms"] == 9.5
    assert "wrk_raw" not in h1["loadgate"] and h2["loadgate"] is None
    ranged = [q for q in sources.queries if "step" in q]
    assert len(ranged) == 3 and all(q["step"] == "30" for q in ranged)
    assert all(float(q["end"]) - float(q["start"]) == 3600 for q in ranged)


async def test_a_source_that_does_not_answer_is_listed_and_the_rest_renders(sources):
    server = await _status({"prometheus": "http://127.0.0.1:9", "alertmanager": sources.base})
    try:
        status, _, body = await _get(server, "/status/data")
    finally:
        await server.close()
    doc = json.loads(body)
    assert status == 200
    assert len(doc["errors"]) == 6 and all("ClientConnectorError" in e for e in doc["errors"])
    assert [h["host"] for h in doc["hosts"]] == []
    assert {a["name"] for a in doc["other_alerts"]} == {
        "OpenClawReplicaDown",
        "OpenClawExporterDown",
    }


async def test_the_page_is_self_contained():
    server = await _status({})
    try:
        status, headers, body = await _get(server, "/status")
    finally:
        await server.close()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    html = body.decode()
    assert 'fetch("status/data"' in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")


async def test_without_a_status_section_there_is_no_page():
    server = TestServer(build_app(settings_from_dict({})))
    await server.start_server()
    try:
        assert (await _get(server, "/status"))[0] == 404
    finally:
        await server.close()


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ({"prometheus": "localhost:9090"}, "status.prometheus"),
        ({"window": "1y"}, "status.window"),
        ({"step": 0}, "status.step"),
        ({"window": "30d", "step": "1s"}, "raise step or shorten window"),
        ("yes", "a mapping"),
    ],
)
def test_bad_status_settings_say_what_to_fix(status, message):
    with pytest.raises(ConfigError, match=message):
        settings_from_dict({"status": status})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _http(method: str, port: int, path: str, body: list | None = None) -> int:
    """Status of one request; the response's text is appended to BODY when given."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=b"{}" if method == "POST" else None)
        resp = conn.getresponse()
        text = resp.read().decode(errors="replace")
        if body is not None:
            body.append(text)
        return resp.status
    finally:
        conn.close()


def test_the_read_only_listener_serves_the_page_and_nothing_else(tmp_path):
    """`openclaw-relay serve` as systemd runs it, with the page on a second port."""
    main_port, page_port = _free_port(), _free_port()
    config = tmp_path / "relay.yml"
    config.write_text(
        f"listen: 127.0.0.1:{main_port}\n"
        "status:\n"
        f"  listen: 127.0.0.1:{page_port}\n"
        # Nothing answers there: the page still renders, listing the source as down.
        f"  prometheus: http://127.0.0.1:{_free_port()}\n"
        f"  alertmanager: http://127.0.0.1:{_free_port()}\n"
    )
    relay = subprocess.Popen(
        [sys.executable, "-m", "openclaw_relay", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                _http("GET", page_port, "/status")
                break
            except OSError:
                assert relay.poll() is None, relay.stdout.read().decode()
                assert time.monotonic() < deadline, "the relay did not listen within 20 s"
                time.sleep(0.1)
        # The page and its data, on both listeners.
        for port in (main_port, page_port):
            assert _http("GET", port, "/status") == 200
            assert _http("GET", port, "/status/data") == 200
        # Alertmanager's posts, the relay's metrics and health: the main listener only.
        assert _http("GET", main_port, "/health") == 200
        assert _http("GET", main_port, "/metrics") == 200
        assert _http("POST", main_port, "/alert/nosuch") == 404  # unknown channel, from the relay
        for method, path in [("GET", "/health"), ("GET", "/metrics"), ("POST", "/alert/nosuch")]:
            said = []
            assert _http(method, page_port, path, said) == 404, (method, path)
            assert "serves only the read-only status page" in said[0], said
        assert _http("POST", page_port, "/status") == 405
    finally:
        relay.terminate()
        relay.wait(10)


def test_a_status_port_in_use_is_named(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = tmp_path / "relay.yml"
        config.write_text(
            f"listen: 127.0.0.1:{_free_port()}\nstatus:\n  listen: 127.0.0.1:{port}\n"
        )
        run = subprocess.run(
            [sys.executable, "-m", "openclaw_relay", "serve", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert run.returncode == 2
    assert f"cannot listen: [Errno 98] 127.0.0.1:{port}" in run.stderr
    assert "status.listen" in run.stderr

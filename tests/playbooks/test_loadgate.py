"""The role's load gate generator (roles/openclaw_runtime/files/loadgate.py).

It runs as the role runs it, a standalone program with the system's python3,
against a real runtime server on loopback (the runtime package of this
checkout, auth on, an inference-client key in a 0600 file), and against a tiny
standard-library HTTP server that stalls once: the stall must show in the
reported p99 and max for every request scheduled during it, where a
closed-loop measurement (latency from the actual send) hides it.
"""

from __future__ import annotations

import http.client
import json
import math
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from roletasks import ROOT, free_port, start_server, stop_server

LOADGATE = ROOT / "roles" / "openclaw_runtime" / "files" / "loadgate.py"
# The hosts run it with their own python3 (what Ansible uses), not this venv.
PYTHON = shutil.which("python3") or sys.executable
BIN = Path(sys.executable).parent
DIGITS = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [0.0] * 64}]}
FIELDS = {
    "generator", "requested_rate", "duration_s", "connections", "requests", "responses",
    "errors", "errors_by_kind", "error_pct", "achieved_rate", "p50_ms", "p90_ms", "p99_ms",
    "max_ms", "service_time_ms", "dispatch_lag_ms", "behind_schedule", "generator_cpu_pct",
    "distinct_bodies", "replicas",
}  # fmt: skip


def loadgate(tmp: Path, urls: list[str], *args: str, request=None, timeout=60) -> dict:
    body = tmp / "request.json"
    body.write_text(json.dumps(request or DIGITS))
    run = subprocess.run(
        [PYTHON, str(LOADGATE), "--request", str(body), *args, *urls],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _cli(*args: str) -> str:
    return subprocess.run(
        [str(BIN / "openclaw-runtime"), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """A runtime server with auth on; yields (url, client key file, admin key)."""
    tmp = tmp_path_factory.mktemp("runtime")
    _cli("models", "build-demo", str(tmp / "models"))
    _cli("keys", "generate-store-key", "-o", str(tmp / "store.key"))
    port = free_port()
    config = tmp / "runtime.yaml"
    config.write_text(
        json.dumps(
            {
                "server": {"host": "127.0.0.1", "port": port, "workers": 1},
                "models": {"repository": str(tmp / "models")},
                "auth": {
                    "key_store": str(tmp / "keys.store"),
                    "key_store_key_file": str(tmp / "store.key"),
                    "audit_log": "",
                },
            }
        )
    )
    client = json.loads(
        _cli("keys", "create", "-c", str(config), "--name", "gate", "--role", "inference-client",
             "--json")
    )["key"]  # fmt: skip
    admin = json.loads(
        _cli("keys", "create", "-c", str(config), "--name", "ops", "--role", "admin", "--json")
    )["key"]
    keyfile = tmp / "client.key"
    keyfile.write_text(client + "\n")
    keyfile.chmod(0o600)
    server = start_server(
        [str(BIN / "openclaw-runtime"), "serve", "-c", str(config)],
        ("127.0.0.1", port),
        tmp / "server.log",
        "openclaw-runtime serve",
        timeout=120,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/v2/health/ready")
            if conn.getresponse().status == 200:
                break
            time.sleep(0.5)
        yield base, keyfile, admin
    finally:
        stop_server(server)


def _cache_hits(base: str, admin: str) -> tuple[int, int]:
    conn = http.client.HTTPConnection(base.split("//")[1], timeout=10)
    conn.request("GET", "/v2/models/digits/stats", headers={"Authorization": f"Bearer {admin}"})
    stats = json.loads(conn.getresponse().read())["model_stats"][0]["inference_stats"]
    return stats["cache_hit"]["count"], stats["cache_miss"]["count"]


def test_runtime_at_a_fixed_rate_every_body_distinct(tmp_path, runtime):
    base, keyfile, admin = runtime
    hits_before, _ = _cache_hits(base, admin)
    url = f"{base}/v2/models/digits/infer"
    rate, seconds = 200, 3
    report = loadgate(
        tmp_path, [url, url], "--rate", str(rate), "--duration", str(seconds),
        "--connections", "8", "--key-file", str(keyfile),
    )  # fmt: skip
    assert FIELDS <= set(report), sorted(FIELDS - set(report))
    assert report["generator"] == "open-loop (latency from the scheduled send time)"
    assert report["requests"] == report["scheduled"] == rate * seconds
    assert report["errors"] == 0, report
    assert report["errors_by_kind"] == dict.fromkeys(
        ("connect", "write", "read", "timeout", "status"), 0
    )
    assert rate * 0.9 <= report["achieved_rate"] <= rate * 1.1, report
    assert 0 < report["p50_ms"] <= report["p90_ms"] <= report["p99_ms"] <= report["max_ms"]
    # Whether this busy machine let the generator keep its schedule: reported, not assumed.
    assert isinstance(report["behind_schedule"], bool)
    assert report["dispatch_lag_ms"]["max"] >= report["dispatch_lag_ms"]["p50"] >= 0
    assert [r["requests"] for r in report["replicas"]] == [rate * seconds // 2] * 2
    # Every body differed: the runtime's result cache answered none of them.
    assert report["distinct_bodies"] == rate * seconds
    hits_after, _ = _cache_hits(base, admin)
    assert hits_after == hits_before
    assert keyfile.read_text().strip() not in json.dumps(report)


def test_wrong_key_is_counted_as_status_errors(tmp_path, runtime):
    base, _, _ = runtime
    wrong = tmp_path / "wrong.key"
    wrong.write_text("oc_0123456789abcdef_" + "x" * 43)
    report = loadgate(
        tmp_path, [f"{base}/v2/models/digits/infer"], "--rate", "50", "--duration", "1",
        "--connections", "2", "--key-file", str(wrong),
    )  # fmt: skip
    assert report["errors_by_kind"]["status"] == report["requests"] == 50
    assert report["error_pct"] == 100.0


def test_unreachable_replica_is_counted_as_connect_errors(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v2/models/digits/infer"
    report = loadgate(tmp_path, [url], "--rate", "50", "--duration", "1", "--connections", "2")
    assert report["errors_by_kind"]["connect"] == report["requests"] == 50
    assert report["responses"] == 0 and report["achieved_rate"] == 0


def test_unreadable_key_file_is_a_clear_error(tmp_path):
    body = tmp_path / "request.json"
    body.write_text(json.dumps(DIGITS))
    run = subprocess.run(
        [PYTHON, str(LOADGATE), "--rate", "1", "--duration", "1", "--request", str(body),
         "--key-file", str(tmp_path / "missing.key"), "http://127.0.0.1:9/x"],
        check=False, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert run.returncode == 2
    assert "cannot read the API key file" in run.stderr and "missing.key" in run.stderr


class _Stall:
    """Answers every POST at once, except that it stalls for STALL seconds once:
    from its REQUEST-th request on, every answer waits until the stall is over."""

    STALL = 1.0

    def __init__(self, request: int, status: int = 200, chunked: bool = False) -> None:
        self.request = request
        self.count = 0
        self.until = 0.0
        self.lock = threading.Lock()
        stall = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle and the
            # client's delayed ACK hold every answer back 40 ms.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                with stall.lock:
                    stall.count += 1
                    if stall.count == stall.request:
                        stall.until = time.monotonic() + stall.STALL
                    wait = stall.until - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                body = b'{"outputs": []}'
                self.send_response(status)
                if status == 204:  # no body and no length, as HTTP has it
                    self.end_headers()
                    return
                self.send_header("Content-Type", "application/json")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2/models/m/infer"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _closed_loop(url: str, rate: float, seconds: float, connections: int) -> list[float]:
    """What a closed-loop generator paced like wrk's delay() measures: each
    connection sends at its next slot, or at once when it is late, and times
    each request from its actual send."""
    host_port, _, path = url.split("//", 1)[1].partition("/")
    path = "/" + path
    body = json.dumps(DIGITS).encode()
    latencies: list[float] = []
    start = time.monotonic()

    def connection(k: int) -> None:
        conn = http.client.HTTPConnection(host_port, timeout=10)
        slot = start + k / rate
        while slot < start + seconds:
            time.sleep(max(0.0, slot - time.monotonic()))
            sent = time.monotonic()
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            conn.getresponse().read()
            latencies.append(time.monotonic() - sent)
            slot += connections / rate

    threads = [threading.Thread(target=connection, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(latencies)


def test_a_stall_counts_for_every_request_scheduled_during_it(tmp_path):
    rate, seconds, connections = 200, 4, 4
    # The stall starts in the middle of the run (after 1.5 s of requests).
    server = _Stall(request=int(rate * 1.5))
    try:
        report = loadgate(
            tmp_path, [server.url], "--rate", str(rate), "--duration", str(seconds),
            "--connections", str(connections), "--timeout", "5",
        )  # fmt: skip
    finally:
        server.close()
    assert report["errors"] == 0, report
    share = _Stall.STALL * rate / report["requests"]  # of the requests, scheduled during the stall
    # Those requests waited from their slot to the stall's end: from 1 s down to 0,
    # so the top 1 % of all requests waited at least STALL * (1 - 0.01 / share).
    expected_p99_ms = 1000 * _Stall.STALL * (1 - 0.01 / share)
    assert report["p99_ms"] >= 0.8 * expected_p99_ms, report
    assert report["max_ms"] >= 0.9 * 1000 * _Stall.STALL, report
    # The same run timed from each actual send (a closed-loop view) hides it.
    assert report["service_time_ms"]["p99"] < 0.3 * 1000 * _Stall.STALL, report

    # And a real closed-loop generator against the same stall: only the few
    # requests in flight when it began see it, so its p99 stays low.
    server = _Stall(request=int(rate * 1.5))
    try:
        closed = _closed_loop(server.url, rate, seconds, connections)
    finally:
        server.close()
    closed_p99 = closed[math.ceil(0.99 * len(closed)) - 1]
    assert closed[-1] >= 0.9 * _Stall.STALL  # it saw the stall...
    assert closed_p99 < 0.3 * _Stall.STALL, closed[-20:]  # ...and reports a p99 without it


def test_a_generator_that_falls_behind_says_so(tmp_path):
    """The generator itself stopped for 0.5 s (SIGSTOP): the requests due meanwhile
    leave late, the report says it was behind, and their latency counts the pause."""
    rate, seconds = 200, 3
    server = _Stall(request=10**9)  # never stalls
    body = tmp_path / "request.json"
    body.write_text(json.dumps(DIGITS))
    try:
        proc = subprocess.Popen(
            [PYTHON, str(LOADGATE), "--request", str(body), "--rate", str(rate),
             "--duration", str(seconds), "--connections", "4", server.url],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        # Half a second into the schedule (start-up is slow on a busy machine).
        deadline = time.monotonic() + 30
        while server.count < rate // 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGSTOP)
        time.sleep(0.5)
        proc.send_signal(signal.SIGCONT)
        out, _ = proc.communicate(timeout=60)
    finally:
        server.close()
    assert proc.returncode == 0
    report = json.loads(out)
    assert report["behind_schedule"] is True, report
    assert report["late_requests"] >= 0.5 * rate * 0.5, report
    assert report["dispatch_lag_ms"]["max"] >= 400, report
    assert report["max_ms"] >= 400, report
    # Nothing was dropped to catch up: every scheduled request went out and was answered.
    assert report["requests"] == report["responses"] == rate * seconds, report


@pytest.mark.parametrize(("status", "chunked"), [(204, False), (200, True)])
def test_bodiless_and_chunked_answers_keep_the_connection(tmp_path, status, chunked):
    server = _Stall(request=10**9, status=status, chunked=chunked)
    try:
        report = loadgate(
            tmp_path, [server.url], "--rate", "50", "--duration", "1", "--connections", "1"
        )
    finally:
        server.close()
    assert report["responses"] == report["requests"] == 50, report
    assert report["errors"] == 0, report

"""Start the real server (supervisor + workers) on a loopback port."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from openclaw_runtime.models.demo import build_demo_model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running server and what it serves."""

    proc: subprocess.Popen
    port: int
    repo: Path
    log: Path

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        """Send one request; return (status, headers, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, doc=None, headers=None):
        """Send JSON (or nothing); return (status, decoded JSON)."""
        body = None if doc is None else json.dumps(doc).encode()
        status, _, raw = self.request(method, path, body, headers)
        return status, json.loads(raw) if raw else None

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM the supervisor and return its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def start_server(
    tmp: Path, repo: Path, extra: str = "", workers: int = 1, drain_delay: float = 0
) -> Server:
    """Write a config, start ``openclaw-runtime serve`` and wait until it is ready."""
    port = free_port()
    config = tmp / "runtime.yaml"
    config.write_text(
        f"server: {{host: 127.0.0.1, port: {port}, workers: {workers}, max_body_bytes: 1048576,"
        f" shutdown_grace_seconds: 10, shutdown_delay_seconds: {drain_delay}}}\n"
        f"models: {{repository: '{repo}', poll_interval_seconds: 0.5}}\n"
        "logging: {level: info}\n"
        # Auth and the result cache have their own suites; here they would mask the core.
        "auth: {enabled: false}\ncache: {enabled: false}\n" + extra
    )
    log = tmp / "server.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "openclaw_runtime.cli", "serve", "--config", str(config)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(proc, port, repo, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        # Every worker says so in the log: a few readiness probes could all land on one worker.
        if len(ready_workers(log)) >= workers:
            return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server not ready in time:\n{log.read_text()[-3000:]}")


def ready_workers(log: Path) -> set[int]:
    """Return the pids of the workers that logged "worker ready" (after loading their models)."""
    pids = set()
    for line in log.read_text(errors="replace").splitlines():
        if '"worker ready"' in line:
            try:
                pids.add(json.loads(line)["pid"])
            except ValueError:  # a line still being written
                continue
    return pids


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_onnx):
    """One server (two workers) with the demo model, shared by a test module."""
    tmp = tmp_path_factory.mktemp("server")
    repo = tmp / "repo"
    build_demo_model(repo, onnx_bytes=demo_onnx)
    srv = start_server(tmp, repo, workers=2)
    yield srv
    assert srv.stop() == 0, srv.log.read_text()[-3000:]

"""Start the real runtime (and the tools around it) for the security and cache tests.

Not a conftest: the test modules import what they need, so these helpers do
not leak into other integration tests.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from cryptography.fernet import Fernet

__all__ = [
    "INFER_BODY",
    "RedisServer",
    "RuntimeServer",
    "cli",
    "ensure_debian_package",
    "free_port",
    "request",
]

PY = sys.executable
INFER_BODY = {
    "inputs": [
        {"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [0.5] * 64},
    ]
}


def free_port() -> int:
    """Return a TCP port that is free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_debian_package(binary: str, package: str) -> str:
    """Return the path of ``binary``, installing the Debian ``package`` first if missing.

    The bootstrap installs these packages (``requirements/apt.txt``); on a machine without
    them the test installs them, and fails (never skips) with the reason if it cannot.
    """
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")
    if found:
        return found
    hint = (
        f"{binary} is missing: install the Debian package {package!r} "
        "(listed in requirements/apt.txt, installed by scripts/bootstrap.sh)"
    )
    if shutil.which("apt-get") is None:
        pytest.fail(f"{hint}; no apt-get on this machine to do it here")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q"]
    install += ["--no-install-recommends", package]
    # A fresh machine may have no package lists yet: update once, then retry.
    attempts = (install, ["apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-q"], install)
    proc = None
    for cmd in attempts:
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        if cmd is install and proc.returncode == 0:
            break
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")
    if not found:
        output = (proc.stdout + proc.stderr)[-2000:] if proc is not None else ""
        pytest.fail(f"{hint}; installing it here failed:\n{output}")
    return found


def request(
    port: int,
    method: str,
    path: str,
    *,
    key: str | None = None,
    header: str = "bearer",
    body: Any = None,
    source: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, dict[str, str], bytes]:
    """Send one HTTP request from ``source`` (a loopback address); return status, headers, body."""

    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0)
    )
    hdrs = dict(headers or {})
    if key is not None:
        if header == "bearer":
            hdrs["Authorization"] = f"Bearer {key}"
        else:
            hdrs["X-API-Key"] = key
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    elif method == "POST":
        data = b"{}"
        hdrs["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def cli(
    *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run ``openclaw-runtime`` with ``args``."""
    proc = subprocess.run(
        [PY, "-m", "openclaw_runtime.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"openclaw-runtime {' '.join(args)} failed: {proc.stderr}")
    return proc


class RuntimeServer:
    """One ``openclaw-runtime serve`` process with its own key store and audit log."""

    def __init__(self, workdir: Path, repository: Path, settings: dict[str, Any] | None = None):
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.store = self.dir / "keys.store"
        self.fernet_file = self.dir / "fernet.key"
        if not self.fernet_file.exists():
            self.fernet_file.write_bytes(Fernet.generate_key())
        self.audit = self.dir / "audit.log"
        self.log = self.dir / "server.log"
        tree: dict[str, Any] = {
            "server": {"host": "127.0.0.1", "port": self.port, "workers": 1},
            "models": {"repository": str(repository), "poll_interval_seconds": 0},
            "auth": {
                "key_store": str(self.store),
                "key_store_key_file": str(self.fernet_file),
                "audit_log": str(self.audit),
                "reload_interval_seconds": 0.2,
            },
            "logging": {"level": "info"},
        }
        for section, values in (settings or {}).items():
            tree.setdefault(section, {}).update(values)
        self.config = self.dir / "config.yaml"
        self.config.write_text(yaml.safe_dump(tree))
        self.proc: subprocess.Popen | None = None

    def keys(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``openclaw-runtime keys ACTION --config <this server's config> ...``."""
        action, *rest = args
        return cli("keys", action, "--config", str(self.config), *rest, check=check)

    def create_key(self, *roles: str, name: str = "test", extra: tuple[str, ...] = ()) -> dict:
        """Issue a key through the CLI; return its JSON (with ``key``)."""
        args = ["create", "--name", name, "--json", *extra]
        for role in roles:
            args += ["--role", role]
        return json.loads(self.keys(*args).stdout)

    def start(self, *, wait: bool = True, timeout: float = 90) -> None:
        """Start the server and wait until it is ready."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
        self._log = open(self.log, "ab")
        self._log_start = self._log.tell()
        self.proc = subprocess.Popen(
            [PY, "-m", "openclaw_runtime.cli", "serve", "--config", str(self.config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 90) -> None:
        """Wait until every worker has logged "worker ready" (fail if the server exits)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.log_text()}")
            # Readiness probes could all land on the worker that is ready first (SO_REUSEPORT).
            if len(self.ready_pids()) >= self.workers:
                return
            time.sleep(0.1)
        raise AssertionError(f"server not ready after {timeout}s:\n{self.log_text()}")

    @property
    def workers(self) -> int:
        """Return the configured number of worker processes."""
        return int(yaml.safe_load(self.config.read_text())["server"]["workers"])

    def ready_pids(self) -> set[int]:
        """Return the pids of the workers that logged "worker ready" since the last start."""
        with open(self.log, "rb") as fh:
            fh.seek(getattr(self, "_log_start", 0))
            text = fh.read().decode(errors="replace")
        pids = set()
        for line in text.splitlines():
            if '"worker ready"' in line:
                try:
                    pids.add(json.loads(line)["pid"])
                except ValueError:  # a line still being written
                    continue
        return pids

    def reloads(self) -> int:
        """Return how many key store reloads the workers have audited so far."""
        return len(self.audit_events("keystore.reloaded"))

    def wait_reloaded(self, since: int, timeout: float = 60) -> None:
        """Wait until every worker audited a key store reload after the first ``since`` ones."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.audit_events("keystore.reloaded")[since:]
            if len({e["pid"] for e in events}) >= self.workers:
                return
            time.sleep(0.05)
        raise AssertionError(f"key store not reloaded by every worker after {timeout}s")

    def log_text(self) -> str:
        """Return what the server printed."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def audit_events(self, name: str | None = None) -> list[dict[str, Any]]:
        """Return the audit log's events (optionally only those named ``name``)."""
        if not self.audit.exists():
            return []
        events = [json.loads(line) for line in self.audit.read_text().splitlines() if line]
        return [e for e in events if name is None or e["event"] == name]

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the supervisor."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> int | None:
        """SIGTERM and wait; return the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode


class RedisServer:
    """A throw-away ``redis-server`` on a free loopback port (no persistence)."""

    def __init__(self, workdir: Path) -> None:
        self.binary = ensure_debian_package("redis-server", "redis-server")
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Return the redis:// URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, password: str | None = None) -> None:
        """Start and wait for PING (``password``: require it, as ``requirepass``)."""
        auth = ["--requirepass", password] if password else []
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--daemonize",
                "no",
                *auth,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, password=password, socket_timeout=0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not answer PING")

    def client(self):
        """Return a synchronous redis-py client."""
        return redis.Redis(port=self.port, socket_timeout=2)

    def kill(self) -> None:
        """SIGKILL the server (an outage, not a shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

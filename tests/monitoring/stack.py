"""The real monitoring processes the end-to-end tests start, and how they wait.

One place for the command lines of Prometheus, Alertmanager and the relay as
the tests run them (loopback only, state under the test's tmp_path), for the
tests in this folder that drive them: test_alert_e2e, test_status_page and
test_loadgate_agreement.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from render import ROOT

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until(what: str, check, timeout: float = 90, procs=(), detail=None):
    """Poll ``check`` (sync or async) until truthy; fail early if a process died.
    On a timeout the error carries ``detail()`` (what did arrive), if given."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        for proc in procs:
            assert proc.poll() is None, f"{proc.args[0]} exited: {proc.log.read_text()[-3000:]}"
        await asyncio.sleep(0.5)
    seen = f"; seen: {detail()}" if detail is not None else ""
    raise AssertionError(f"timed out waiting for {what} after {timeout:.0f}s{seen}")


def stop(procs, timeout: float = 20) -> None:
    """Terminate every process, then reap each (killed if it outlives ``timeout``)."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def start(args: list[str], log: Path, **env) -> subprocess.Popen:
    """Start ``args`` with its output in ``log`` (kept as ``proc.log`` for until()'s message)."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )
    proc.log = log
    return proc


def prometheus(config: Path, port: int, tmp: Path) -> subprocess.Popen:
    return start(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
        ],
        tmp / "prometheus.log",
    )


def alertmanager(config: Path, port: int, tmp: Path) -> subprocess.Popen:
    return start(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            f"--storage.path={tmp / 'am'}",
        ],
        tmp / "alertmanager.log",
    )


def relay(config: Path, tmp: Path) -> subprocess.Popen:
    return start(
        [sys.executable, "-m", "openclaw_relay", "serve", "--config", str(config)],
        tmp / "relay.log",
        PYTHONPATH=str(ROOT / "runtime" / "relay"),
    )

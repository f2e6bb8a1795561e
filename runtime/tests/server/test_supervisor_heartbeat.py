"""The supervisor's hang check against a real worker: monotonic heartbeats, a wall-clock jump.

A real worker process (spawned like ``serve`` does) stamps the shared heartbeat;
the test runs the supervisor's check on its slot.
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import signal
import time

import pytest

from openclaw_runtime import supervisor
from openclaw_runtime.config import load_settings

from .conftest import free_port

pytestmark = pytest.mark.integration

HANG_SECONDS = 1.0


def _ready(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/v2/health/ready")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@pytest.fixture
def slot(tmp_path):
    """A supervisor slot running one real worker (worker_hang_seconds 1, an empty repository)."""
    (tmp_path / "repo").mkdir()
    settings = load_settings(
        overrides={
            "server.host": "127.0.0.1",
            "server.worker_hang_seconds": HANG_SECONDS,
            "server.shutdown_grace_seconds": 1,
            "models.repository": str(tmp_path / "repo"),
            "models.poll_interval_seconds": 0,
            "metrics.enabled": False,
            "auth.enabled": False,
            "cache.enabled": False,
        }
    )
    port = free_port()
    one = supervisor._Slot(mp.get_context("spawn"), settings, port, 1, 0)
    one.start()
    first = one.process
    try:
        deadline = time.monotonic() + 60
        while not _ready(port):
            assert first.is_alive(), f"worker exited {first.exitcode}"
            assert time.monotonic() < deadline, "worker not ready in time"
            time.sleep(0.1)
        yield one, settings
    finally:
        for proc in (first, one.process):
            if proc is not None and proc.is_alive():
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
                proc.join(5)


def test_a_wall_clock_jump_does_not_count_as_a_hang(slot, monkeypatch):
    one, settings = slot
    worker = one.process
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)  # NTP stepped an hour ahead
    end = time.monotonic() + 2 * HANG_SECONDS
    while time.monotonic() < end:
        supervisor._watch(one, settings)
        assert one.process is worker and worker.is_alive(), "a healthy worker was killed"
        time.sleep(0.2)


def test_a_worker_whose_heartbeat_stops_is_killed(slot):
    one, settings = slot
    worker = one.process
    os.kill(worker.pid, signal.SIGSTOP)  # hung: its heartbeat task no longer runs
    supervisor._watch(one, settings)
    assert worker.is_alive(), "killed before worker_hang_seconds passed"
    time.sleep(HANG_SECONDS + 0.5)
    supervisor._watch(one, settings)
    worker.join(5)
    assert worker.exitcode == -signal.SIGKILL

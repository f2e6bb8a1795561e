"""Process lifecycle: SIGTERM drains with readiness 503 and exits 0; dead workers come back."""

from __future__ import annotations

import json
import os
import signal
import time

import psutil

from openclaw_runtime.models.demo import build_demo_model

from .conftest import start_server

BODY = json.dumps(
    {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [0.1] * 64}]}
).encode()


def test_sigterm_turns_readiness_off_keeps_serving_then_exits_zero(tmp_path, demo_onnx):
    repo = tmp_path / "repo"
    build_demo_model(repo, onnx_bytes=demo_onnx)
    srv = start_server(tmp_path, repo, workers=1, drain_delay=3)
    srv.proc.send_signal(signal.SIGTERM)
    saw_not_ready = False
    served_while_draining = False
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and srv.proc.poll() is None:
        try:
            status, _, body = srv.request("GET", "/v2/health/ready")
        except OSError:
            break
        if status == 503:
            saw_not_ready = True
            assert json.loads(body) == {"ready": False}
            try:
                served_while_draining |= (
                    srv.request("POST", "/v2/models/digits/infer", BODY)[0] == 200
                )
            except OSError:
                break
        time.sleep(0.05)
    assert srv.proc.wait(30) == 0
    assert saw_not_ready, "readiness never reported 503 during the drain"
    assert served_while_draining, "inference stopped before the listener closed"


def worker_pids(supervisor: psutil.Process) -> set[int]:
    """Return the live worker processes (not zombies, not multiprocessing's tracker)."""
    pids = set()
    for child in supervisor.children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(
                child.cmdline()
            ):
                pids.add(child.pid)
        except psutil.Error:
            continue
    return pids


def test_a_killed_worker_is_restarted(tmp_path, demo_onnx):
    repo = tmp_path / "repo"
    build_demo_model(repo, onnx_bytes=demo_onnx)
    srv = start_server(tmp_path, repo, workers=2)
    try:
        supervisor = psutil.Process(srv.proc.pid)
        workers = worker_pids(supervisor)
        assert len(workers) == 2
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pids = worker_pids(supervisor)
            if len(pids) == 2 and victim not in pids:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the killed worker was not replaced")
        ok = 0
        deadline = time.monotonic() + 60
        while ok < 20 and time.monotonic() < deadline:
            status = srv.request("POST", "/v2/models/digits/infer", BODY)[0]
            ok = ok + 1 if status == 200 else 0
            time.sleep(0.02)
        assert ok == 20
        assert "worker exited; restarting" in srv.log.read_text()
    finally:
        assert srv.stop() == 0

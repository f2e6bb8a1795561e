"""openclaw_model_load_failed: a version refused by its manifest reads 1 with the error code
on /metrics (both workers' files merged), and 0 again once it is gone from the repository."""

from __future__ import annotations

import shutil
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from openclaw_runtime.models.demo import build_demo_model

from .conftest import start_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def failing(tmp_path_factory, demo_onnx):
    tmp = tmp_path_factory.mktemp("load-failure")
    repo = tmp / "repo"
    build_demo_model(repo, onnx_bytes=demo_onnx)
    srv = start_server(tmp, repo, workers=2)
    yield srv
    assert srv.stop() == 0, srv.log.read_text()[-3000:]


def _failed(srv) -> dict[tuple[str, str, str], float]:
    status, _, body = srv.request("GET", "/metrics")
    assert status == 200
    return {
        (s.labels["model"], s.labels["version"], s.labels["reason"]): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
        if s.name == "openclaw_model_load_failed"
    }


def _wait(predicate, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_version_refused_by_its_manifest_is_flagged_then_cleared(failing, demo_onnx):
    srv = failing
    assert not any(_failed(srv).values())
    staged = build_demo_model(srv.repo.parent / "staging", version=2, onnx_bytes=demo_onnx)
    data = bytearray((staged / "model.onnx").read_bytes())
    data[-10] ^= 0xFF
    (staged / "model.onnx").write_bytes(bytes(data))
    vdir = srv.repo / "digits" / "2"
    staged.rename(vdir)
    key = ("digits", "2", "checksum_mismatch")
    assert _wait(lambda: _failed(srv).get(key) == 1), _failed(srv)
    # Version 1 keeps serving and is not flagged.
    assert not any(v for (m, ver, _r), v in _failed(srv).items() if ver == "1")

    shutil.rmtree(vdir)
    # Each worker clears its flag when its index no longer shows the version (at a scrape
    # or a heartbeat), so the merged maximum drops to 0.
    assert _wait(lambda: _failed(srv).get(key) == 0), _failed(srv)

"""Hot reload under load: new versions, explicit reloads and broken versions, zero failures."""

from __future__ import annotations

import http.client
import json
import shutil
import threading
import time

import pytest

from openclaw_runtime.models.demo import build_demo_model

from .conftest import start_server

BODY = json.dumps(
    {"inputs": [{"name": "input", "datatype": "FP32", "shape": [2, 64], "data": [0.25] * 128}]}
).encode()


class Load:
    """Threads that send inference requests on keep-alive connections until stopped."""

    def __init__(self, port: int, threads: int = 6) -> None:
        self.port = port
        self.stop = threading.Event()
        self.statuses: list[int] = []
        self.versions: list[str] = []
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stop.is_set():
            try:
                conn.request("POST", "/v2/models/digits/infer", BODY)
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            self.statuses.append(resp.status)
            if resp.status == 200:
                self.versions.append(json.loads(body)["model_version"])
            else:
                self.errors.append(body.decode()[:200])
        conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def wait_for_version(server, version: str, timeout: float = 60) -> None:
    """Wait until every worker serves ``version`` (unversioned requests)."""
    deadline = time.monotonic() + timeout
    streak = 0
    while time.monotonic() < deadline:
        status, out = server.json("POST", "/v2/models/digits/infer", json.loads(BODY))
        streak = streak + 1 if status == 200 and out["model_version"] == version else 0
        if streak >= 20:
            return
        time.sleep(0.05)
    pytest.fail(f"version {version} never served by all workers")


def all_workers_answer(
    srv, status: int, tries: int = 20, version: str | None = None, error: str = ""
) -> bool:
    """True when ``tries`` requests in a row (new connections, spread over the workers by
    SO_REUSEPORT) get ``status`` and, if given, an error message containing ``error``."""
    path = "/v2/models/digits" + (f"/versions/{version}" if version else "") + "/infer"
    body = json.loads(BODY)
    for _ in range(tries):
        got, doc = srv.json("POST", path, body)
        if got != status or error not in (doc.get("error", "") if got != 200 else ""):
            return False
    return True


def wait_until(predicate, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def reload_server(tmp_path_factory, demo_onnx):
    tmp = tmp_path_factory.mktemp("reload")
    repo = tmp / "repo"
    build_demo_model(repo, onnx_bytes=demo_onnx)
    srv = start_server(tmp, repo, workers=2)
    yield srv
    assert srv.stop() == 0


def test_new_versions_and_reloads_under_load_fail_no_request(reload_server, demo_onnx):
    srv = reload_server
    with Load(srv.port) as load:
        # Each step starts once the load has seen the version before it.
        assert wait_until(lambda: "1" in load.versions)
        build_demo_model(srv.repo, version=2, onnx_bytes=demo_onnx)
        wait_for_version(srv, "2")
        for _ in range(3):  # explicit reloads of the repository extension, under load
            status, _ = srv.json("POST", "/v2/repository/models/digits/load")
            assert status == 200
        assert wait_until(lambda: "2" in load.versions)
        build_demo_model(srv.repo, version=3, onnx_bytes=demo_onnx)
        wait_for_version(srv, "3")
        assert wait_until(lambda: "3" in load.versions)
        shutil.rmtree(srv.repo / "digits" / "1")
        # Removing a retired version under load: the load goes on for 50 more requests.
        served = len(load.statuses)
        assert wait_until(lambda: len(load.statuses) > served + 50)
    assert load.errors == []
    assert set(load.statuses) == {200}
    assert {"1", "2", "3"} <= set(load.versions)


def test_a_corrupt_new_version_keeps_the_old_one_serving(reload_server, demo_onnx):
    srv = reload_server
    current = srv.json("POST", "/v2/models/digits/infer", json.loads(BODY))[1]["model_version"]
    bad = int(current) + 1
    # Corrupted before it enters the repository (a rename): no poll sees it intact.
    staged = build_demo_model(srv.repo.parent / "staging", version=bad, onnx_bytes=demo_onnx)
    data = bytearray((staged / "model.onnx").read_bytes())
    data[-10] ^= 0xFF
    (staged / "model.onnx").write_bytes(bytes(data))
    vdir = srv.repo / "digits" / str(bad)

    def reported() -> bool:
        index = srv.json("POST", "/v2/repository/index")[1]
        entry = next((e for e in index if e["version"] == str(bad)), None)
        return bool(entry and entry["state"] == "UNAVAILABLE" and "checksum" in entry["reason"])

    try:
        with Load(srv.port, threads=3) as load:
            staged.rename(vdir)
            assert wait_until(reported), "the index does not report the checksum mismatch"
            # That was one worker's index: wait until every worker has tried the new version.
            assert wait_until(
                lambda: all_workers_answer(srv, 503, version=str(bad), error="checksum")
            ), "a worker did not report the broken version"
        assert load.errors == [] and set(load.versions) == {current}
    finally:
        shutil.rmtree(vdir, ignore_errors=True)  # later tests reload the model


def test_unload_and_load_reach_every_worker(reload_server):
    srv = reload_server
    assert srv.json("POST", "/v2/repository/models/digits/unload")[0] == 200
    assert wait_until(lambda: all_workers_answer(srv, 503)), "a worker still serves after unload"
    status, doc = srv.json("POST", "/v2/models/digits/infer", json.loads(BODY))
    assert status == 503 and "not ready" in doc["error"]
    assert srv.json("POST", "/v2/repository/models/digits/load")[0] == 200
    assert wait_until(lambda: all_workers_answer(srv, 200)), "a worker did not load again"

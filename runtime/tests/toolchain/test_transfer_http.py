"""``publish`` and ``fetch`` over file:// and a real local HTTP server (Range, PUT, faults)."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from openclaw_runtime.toolchain.errors import EXIT_STORE
from openclaw_runtime.toolchain.layout import list_versions

from .store_server import StoreServer


@pytest.fixture
def served(tmp_path, int8_repo, cli):
    """The INT8 version published to a file:// store that a local HTTP server serves."""
    store = tmp_path / "store"
    code, report = cli("publish", int8_repo / "lr" / "2", "--to", f"file://{store}")
    assert code == 0, report
    with StoreServer(store) as server:
        yield server


def _tree(path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def test_publish_file_then_fetch_http(cli, served, int8_repo, tmp_path):
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "fetched")
    assert code == 0, report
    assert report["config"] == "installed" and not report["unchanged"]
    assert _tree(tmp_path / "fetched" / "lr" / "2") == _tree(int8_repo / "lr" / "2")
    assert (tmp_path / "fetched" / "lr" / "labels.txt").exists()
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "fetched")
    assert code == 0 and report["unchanged"]  # idempotent


def test_publish_over_http_put(cli, int8_repo, tmp_path):
    store = tmp_path / "put-store"
    with StoreServer(store) as server:
        code, report = cli("publish", int8_repo / "lr" / "1", "--to", f"{server.url}/models")
        assert code == 0, report
        puts = [path for method, path, _ in server.requests if method == "PUT"]
        assert puts[-1] == "/models/lr/1/SHA256SUMS"  # the manifest goes last
    assert _tree(store / "models" / "lr" / "1") == _tree(int8_repo / "lr" / "1")
    assert (store / "models" / "lr" / "config.yaml").exists()


def test_interrupted_download_resumes_with_range(cli, served, tmp_path):
    served.faults["2/model.onnx"] = "truncate"
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r")
    assert code == EXIT_STORE
    assert list_versions(tmp_path / "r" / "lr") == []  # nothing half-installed
    partial = tmp_path / "r" / "lr" / ".fetch-2" / "model.onnx"
    kept = partial.stat().st_size
    assert kept > 0
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r")
    assert code == 0, report
    ranges = [r for _, path, r in served.requests if path.endswith("2/model.onnx") and r]
    assert ranges == [f"bytes={kept}-"]  # resumed, not restarted
    assert not (tmp_path / "r" / "lr" / ".fetch-2").exists()
    code, report = cli("verify", tmp_path / "r" / "lr" / "2")
    checks = {c["name"]: c for c in report["versions"][0]["checks"]}
    assert checks["manifest"]["ok"] and checks["load"]["ok"]
    assert "parent version 1 is not in the repository" in checks["parity"]["detail"]


def test_corrupt_download_never_replaces_a_good_version(cli, served, tmp_path):
    repo = tmp_path / "r"
    assert cli("fetch", f"{served.url}/lr/2", "--to", repo)[0] == 0
    good = _tree(repo / "lr" / "2")
    served.faults["2/model.onnx"] = "corrupt"
    for extra in ([], ["--replace"]):
        shutil.rmtree(repo / "lr" / ".fetch-2", ignore_errors=True)
        code, report = cli("fetch", f"{served.url}/lr/2", "--to", repo, *extra)
        assert code == EXIT_STORE and "does not match the manifest" in report["error"]
        assert _tree(repo / "lr" / "2") == good


def test_server_ignoring_range_restarts_cleanly(cli, served, tmp_path):
    served.faults["2/model.onnx"] = "truncate"
    assert cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r")[0] == EXIT_STORE
    served.faults["2/model.onnx"] = "no-range"
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r")
    assert code == 0, report


def test_size_bound_is_enforced(cli, served, tmp_path):
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", "--max-bytes", "1000")
    assert code == EXIT_STORE and "--max-bytes" in report["error"]
    assert list_versions(tmp_path / "r" / "lr") == []


def test_manifest_pin_and_unsafe_paths(cli, served, tmp_path):
    code, report = cli(
        "fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", "--manifest-sha256", "0" * 64
    )
    assert code == EXIT_STORE and "manifest sha256" in report["error"]
    sums = served.root / "lr" / "2" / "SHA256SUMS"
    sums.write_text(sums.read_text() + f"{'0' * 64}  ../../escape.txt\n")
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r")
    assert code == EXIT_STORE and "unsafe path" in report["error"]
    assert not (tmp_path / "escape.txt").exists()


def test_missing_version_and_bad_urls(cli, served, tmp_path):
    code, report = cli("fetch", f"{served.url}/lr/9", "--to", tmp_path / "r")
    assert code == EXIT_STORE and "404" in report["error"]
    code, report = cli("fetch", "ftp://host/lr/2", "--to", tmp_path / "r")
    assert code == 2 and "unsupported store URL" in report["error"]
    code, report = cli("fetch", "http://127.0.0.1:9/lr/2", "--to", tmp_path / "r")
    assert code == EXIT_STORE and "cannot connect" in report["error"]


def test_fetch_under_another_version_and_replace(cli, served, tmp_path):
    repo = tmp_path / "r"
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", repo, "--version", "5")
    assert (code, report["version"]) == (0, 5)
    assert list_versions(repo / "lr") == [5]
    (repo / "lr" / "5" / "extra.txt").write_text("a different local version 5")
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", repo, "--version", "5")
    assert code == EXIT_STORE and "--replace" in report["error"]
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", repo, "--version", "5", "--replace")
    assert code == 0 and not (repo / "lr" / "5" / "extra.txt").exists()
    assert sorted(p.name for p in (repo / "lr").iterdir() if p.name.startswith(".")) == []

"""``publish`` and ``fetch`` over file:// and a real local HTTP server (Range, PUT, faults).

Plain http:// fetches need the manifest pin, so every fetch here passes the
``manifest_sha256`` that ``publish`` printed (``served.pin``).
"""

from __future__ import annotations

import hashlib
import shutil

import pytest

from openclaw_runtime.models.manifest import verify_manifest
from openclaw_runtime.toolchain.errors import EXIT_STORE, EXIT_USAGE
from openclaw_runtime.toolchain.layout import list_versions

from .store_server import StoreServer, self_signed_cert


@pytest.fixture
def served(tmp_path, int8_repo, cli):
    """The INT8 version published to a file:// store that a local HTTP server serves."""
    store = tmp_path / "store"
    code, report = cli("publish", int8_repo / "lr" / "2", "--to", f"file://{store}")
    assert code == 0, report
    with StoreServer(store) as server:
        server.pin = report["manifest_sha256"]
        yield server


def _pinned(served) -> list[str]:
    return ["--manifest-sha256", served.pin]


def _repin(served, version: str) -> list[str]:
    """The pin of the store's manifest as it is now (after a test changed it)."""
    sums = served.root / version / "SHA256SUMS"
    return ["--manifest-sha256", hashlib.sha256(sums.read_bytes()).hexdigest()]


def _tree(path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def test_publish_file_then_fetch_http(cli, served, int8_repo, tmp_path):
    code, report = cli(
        "fetch", f"{served.url}/lr/2", "--to", tmp_path / "fetched", *_pinned(served)
    )
    assert code == 0, report
    assert report["config"] == "installed" and not report["unchanged"]
    assert _tree(tmp_path / "fetched" / "lr" / "2") == _tree(int8_repo / "lr" / "2")
    assert (tmp_path / "fetched" / "lr" / "labels.txt").exists()
    code, report = cli(
        "fetch", f"{served.url}/lr/2", "--to", tmp_path / "fetched", *_pinned(served)
    )
    assert code == 0 and report["unchanged"]  # idempotent


def test_publish_over_http_put(cli, int8_repo, tmp_path):
    store = tmp_path / "put-store"
    with StoreServer(store) as server:
        code, report = cli("publish", int8_repo / "lr" / "1", "--to", f"{server.url}/models")
        assert code == 0, report
        puts = [path for method, path, _ in server.requests if method == "PUT"]
        assert puts[-1] == "/models/lr/1/SHA256SUMS"  # the manifest goes last
    published, local = _tree(store / "models" / "lr" / "1"), _tree(int8_repo / "lr" / "1")
    assert published.pop("SHA256SUMS") != local.pop("SHA256SUMS")  # + ../config.yaml, ../labels
    assert published == local
    assert (store / "models" / "lr" / "config.yaml").exists()
    verify_manifest(store / "models" / "lr" / "1")


def test_interrupted_download_resumes_with_range(cli, served, tmp_path):
    served.faults["2/model.onnx"] = "truncate"
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", *_pinned(served))
    assert code == EXIT_STORE
    assert list_versions(tmp_path / "r" / "lr") == []  # nothing half-installed
    partial = tmp_path / "r" / "lr" / ".fetch-2" / "model.onnx"
    kept = partial.stat().st_size
    assert kept > 0
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", *_pinned(served))
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
    assert cli("fetch", f"{served.url}/lr/2", "--to", repo, *_pinned(served))[0] == 0
    good = _tree(repo / "lr" / "2")
    served.faults["2/model.onnx"] = "corrupt"
    for extra in ([], ["--replace"]):
        shutil.rmtree(repo / "lr" / ".fetch-2", ignore_errors=True)
        code, report = cli("fetch", f"{served.url}/lr/2", "--to", repo, *extra, *_pinned(served))
        assert code == EXIT_STORE and "does not match the manifest" in report["error"]
        assert _tree(repo / "lr" / "2") == good


def test_server_ignoring_range_restarts_cleanly(cli, served, tmp_path):
    served.faults["2/model.onnx"] = "truncate"
    assert (
        cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", *_pinned(served))[0]
        == EXIT_STORE
    )
    served.faults["2/model.onnx"] = "no-range"
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", *_pinned(served))
    assert code == 0, report


def test_size_bound_is_enforced(cli, served, tmp_path):
    code, report = cli(
        "fetch",
        f"{served.url}/lr/2",
        "--to",
        tmp_path / "r",
        "--max-bytes",
        "1000",
        *_pinned(served),
    )
    assert code == EXIT_STORE and "--max-bytes" in report["error"]
    assert list_versions(tmp_path / "r" / "lr") == []


def test_manifest_pin_and_unsafe_paths(cli, served, tmp_path):
    code, report = cli(
        "fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", "--manifest-sha256", "0" * 64
    )
    assert code == EXIT_STORE and "manifest sha256" in report["error"]
    sums = served.root / "lr" / "2" / "SHA256SUMS"
    sums.write_text(sums.read_text() + f"{'0' * 64}  ../../escape.txt\n")
    pin = _repin(served, "lr/2")
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", *pin)
    assert code == EXIT_STORE and "unsafe path" in report["error"]
    assert not (tmp_path / "escape.txt").exists()


def test_missing_version_and_bad_urls(cli, served, tmp_path):
    any_pin = ["--manifest-sha256", "0" * 64]
    code, report = cli("fetch", f"{served.url}/lr/9", "--to", tmp_path / "r", *any_pin)
    assert code == EXIT_STORE and "404" in report["error"]
    code, report = cli("fetch", "ftp://host/lr/2", "--to", tmp_path / "r")
    assert code == 2 and "unsupported store URL" in report["error"]
    code, report = cli("fetch", "http://127.0.0.1:9/lr/2", "--to", tmp_path / "r", *any_pin)
    assert code == EXIT_STORE and "cannot connect" in report["error"]
    code, report = cli(
        "fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", "--manifest-sha256", "abc"
    )
    assert code == EXIT_USAGE and "64 hex digits" in report["error"]


def test_fetch_under_another_version_and_replace(cli, served, tmp_path):
    repo = tmp_path / "r"
    code, report = cli(
        "fetch", f"{served.url}/lr/2", "--to", repo, "--version", "5", *_pinned(served)
    )
    assert (code, report["version"]) == (0, 5)
    assert list_versions(repo / "lr") == [5]
    (repo / "lr" / "5" / "extra.txt").write_text("a different local version 5")
    code, report = cli(
        "fetch", f"{served.url}/lr/2", "--to", repo, "--version", "5", *_pinned(served)
    )
    assert code == EXIT_STORE and "--replace" in report["error"]
    code, report = cli(
        "fetch", f"{served.url}/lr/2", "--to", repo, "--version", "5", "--replace", *_pinned(served)
    )
    assert code == 0 and not (repo / "lr" / "5" / "extra.txt").exists()
    assert sorted(p.name for p in (repo / "lr").iterdir() if p.name.startswith(".")) == []


# --- config.yaml and labels under the pinned manifest; plain http needs the pin ---------------


def test_published_manifest_covers_config_and_labels(cli, served, int8_repo, tmp_path):
    sums = (served.root / "lr" / "2" / "SHA256SUMS").read_text()
    config = hashlib.sha256((int8_repo / "lr" / "config.yaml").read_bytes()).hexdigest()
    labels = hashlib.sha256((int8_repo / "lr" / "labels.txt").read_bytes()).hexdigest()
    assert f"{config}  ../config.yaml\n" in sums and f"{labels}  ../labels.txt\n" in sums
    verify_manifest(served.root / "lr" / "2")  # what sha256sum -c does in the store's version
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", *_pinned(served))
    assert code == 0, report
    # Installed: the version's own manifest, byte for byte the publisher's.
    installed = tmp_path / "r" / "lr" / "2" / "SHA256SUMS"
    assert installed.read_bytes() == (int8_repo / "lr" / "2" / "SHA256SUMS").read_bytes()


@pytest.mark.parametrize("changed", ["config.yaml", "labels.txt"])
def test_changed_config_or_labels_in_the_store_is_refused(cli, served, tmp_path, changed):
    path = served.root / "lr" / changed
    path.write_text(path.read_text().replace("3", "8"))  # max_batch_size 32 -> 82, a label
    repo = tmp_path / "r"
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", repo, *_pinned(served))
    assert code == EXIT_STORE, report
    assert f"lr/{changed}: sha256" in report["error"] and "does not match" in report["error"]
    assert not (repo / "lr" / "config.yaml").exists() and not (repo / "lr" / "labels.txt").exists()
    assert list_versions(repo / "lr") == []


def test_manifest_without_config_lines_is_refused(cli, served, tmp_path):
    sums = served.root / "lr" / "2" / "SHA256SUMS"
    published = sums.read_text()
    sums.write_text("".join(line for line in published.splitlines(True) if "../" not in line))
    code, report = cli(
        "fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", *_repin(served, "lr/2")
    )
    assert code == EXIT_STORE and "does not cover config.yaml" in report["error"]
    assert "publish the version again" in report["error"]
    sums.write_text(published + f"{'1' * 64}  ../extra.txt\n")
    code, report = cli(
        "fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", *_repin(served, "lr/2")
    )
    assert code == EXIT_STORE and "../extra.txt" in report["error"]


def test_plain_http_without_pin_is_refused_before_any_request(cli, served, tmp_path):
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r")
    assert code == EXIT_USAGE
    assert "--manifest-sha256" in report["error"] and "https://" in report["error"]
    assert served.requests == []
    assert not (tmp_path / "r").exists()


def test_https_without_pin_is_allowed(cli, int8_repo, tmp_path, monkeypatch):
    store = tmp_path / "store"
    assert cli("publish", int8_repo / "lr" / "2", "--to", f"file://{store}")[0] == 0
    cert, key = self_signed_cert(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # urllib's default context trusts it
    with StoreServer(store, tls=(cert, key)) as server:
        code, report = cli("fetch", f"{server.url}/lr/2", "--to", tmp_path / "r")
    assert code == 0, report


# --- user:password in the URL; redirects ----------------------------------------------------


def test_userinfo_in_the_url_is_refused_without_showing_the_password(
    cli, served, int8_repo, tmp_path
):
    host = served.url.removeprefix("http://")
    for args in (
        ("fetch", f"http://alice:s3cr3t-pw@{host}/lr/2", "--to", tmp_path / "r", *_pinned(served)),
        ("publish", int8_repo / "lr" / "2", "--to", f"http://alice:s3cr3t-pw@{host}/m"),
        ("fetch", f"http://alice:s3cr3t-pw@{host}/lr", "--to", tmp_path / "r"),
    ):
        code, report = cli(*args)
        assert code == EXIT_USAGE, report
        assert "s3cr3t-pw" not in cli.stderr + str(report)
    assert (
        "user:password"
        in cli(
            "fetch", f"http://alice:s3cr3t-pw@{host}/lr/2", "--to", tmp_path / "r", *_pinned(served)
        )[1]["error"]
    )
    assert served.requests == []  # nothing was sent anywhere


def test_redirect_on_the_same_host_is_followed(cli, served, tmp_path):
    served.redirects["/lr/2/model.onnx"] = served.url + "/moved"
    moved = served.root / "moved" / "lr" / "2"
    moved.mkdir(parents=True)
    shutil.copy(served.root / "lr" / "2" / "model.onnx", moved / "model.onnx")
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", *_pinned(served))
    assert code == 0, report
    assert ("GET", "/moved/lr/2/model.onnx", None) in served.requests


def test_redirect_to_another_host_is_refused(cli, served, tmp_path):
    # localhost is the same server under another host name: only the name makes it foreign.
    other = served.url.replace("127.0.0.1", "localhost")
    served.redirects["/lr/2/SHA256SUMS"] = other
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", *_pinned(served))
    assert code == EXIT_STORE, report
    assert "redirect to another host (localhost)" in report["error"]
    assert len(served.requests) == 1  # the redirect was not followed
    served.redirects = {"/lr/2/model.onnx": other}
    code, report = cli("fetch", f"{served.url}/lr/2", "--to", tmp_path / "r", *_pinned(served))
    assert code == EXIT_STORE and "another host" in report["error"]
    assert list_versions(tmp_path / "r" / "lr") == []


def test_redirect_from_https_to_http_is_refused(cli, served, tmp_path, monkeypatch):
    cert, key = self_signed_cert(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with StoreServer(served.root, tls=(cert, key)) as secure:
        secure.redirects["/lr/2/SHA256SUMS"] = served.url  # same host, plain http
        code, report = cli("fetch", f"{secure.url}/lr/2", "--to", tmp_path / "r")
    assert code == EXIT_STORE, report
    assert "from https to plain http" in report["error"]
    assert served.requests == []

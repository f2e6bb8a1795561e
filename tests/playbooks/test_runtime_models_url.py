"""openclaw_runtime's `url` model source: versions fetched from an HTTP model store.

The demo model is published with `openclaw-model publish` into a directory that a
real HTTP server (python -m http.server) serves on the Docker bridge, so the
role's fetch, which runs `openclaw-model fetch` inside the runtime image, reaches
it like a model store. The role's models tasks run through ansible-playbook against
localhost with the data path in a temporary directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from roletasks import (
    RUNTIME_IMAGE,
    changed_count,
    docker_answers,
    docker_bridge_address,
    free_port,
    run_role_tasks,
    start_server,
    stop_server,
)

IMAGE = RUNTIME_IMAGE

pytestmark = pytest.mark.skipif(
    not docker_answers(),
    reason="the Docker engine does not answer (make docker starts it)",
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Publish the demo model's version 2 and serve the store over HTTP on the bridge."""
    tmp = tmp_path_factory.mktemp("store")
    repo = tmp / "repo"
    model = Path(sys.executable).with_name("openclaw-model")
    subprocess.run([str(model), "build-demo", "--to", str(repo), "--quiet"], check=True)
    published = subprocess.run(
        [str(model), "publish", str(repo / "digits" / "2"), "--to", f"file://{tmp}/www", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    manifest = json.loads(published.stdout)["manifest_sha256"]
    gateway = docker_bridge_address()
    port = free_port("0.0.0.0")
    server = start_server(
        [sys.executable, "-m", "http.server", str(port), "--bind", gateway],
        (gateway, port),
        tmp / "http.log",
        "http.server (the model store)",
        cwd=tmp / "www",
    )
    yield {"url": f"http://{gateway}:{port}/digits/2", "sha256": manifest, "www": tmp / "www"}
    stop_server(server)


def run_models_tasks(tmp: Path, data: Path, urls: list[dict]) -> subprocess.CompletedProcess[str]:
    """Stage models from ``urls`` as the role does (vars.yml first: the image's uid)."""
    variables = {
        "openclaw_runtime_data_path": str(data),
        "openclaw_runtime_models_source": "url",
        "openclaw_runtime_models_urls": urls,
    }
    return run_role_tasks(tmp, "openclaw_runtime", ["vars.yml", "models.yml"], variables)


def test_fetch_verify_publish_and_rerun(tmp_path, runtime_image, store):
    data = tmp_path / "srv"
    first = run_models_tasks(tmp_path, data, [{"url": store["url"], "sha256": store["sha256"]}])
    assert first.returncode == 0, first.stdout[-4000:]
    current = data / "models" / "current"
    assert current.is_symlink() and os.readlink(current).startswith("releases/")
    served = current / "digits"
    assert (served / "config.yaml").is_file() and (served / "labels.txt").is_file()
    original = store["www"] / "digits" / "2" / "model.onnx"
    assert (served / "2" / "model.onnx").read_bytes() == original.read_bytes()
    check = subprocess.run(
        ["sha256sum", "--check", "--strict", "SHA256SUMS"],
        cwd=served / "2",
        check=False,
        capture_output=True,
    )
    assert check.returncode == 0, check.stdout
    assert not list((data / "models" / "releases").glob(".partial-*"))

    again = run_models_tasks(tmp_path, data, [{"url": store["url"], "sha256": store["sha256"]}])
    assert again.returncode == 0, again.stdout[-4000:]
    assert changed_count(again) == 0, again.stdout[-4000:]


def test_wrong_pin_is_refused_and_current_models_stay(tmp_path, runtime_image, store):
    data = tmp_path / "srv"
    good = run_models_tasks(tmp_path, data, [{"url": store["url"], "sha256": store["sha256"]}])
    assert good.returncode == 0, good.stdout[-4000:]
    before = os.readlink(data / "models" / "current")
    bad = run_models_tasks(tmp_path, data, [{"url": store["url"], "sha256": "0" * 64}])
    assert bad.returncode != 0
    assert f"manifest sha256 {store['sha256']} is not the expected {'0' * 64}" in bad.stdout
    assert os.readlink(data / "models" / "current") == before

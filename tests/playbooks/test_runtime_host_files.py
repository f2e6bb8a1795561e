"""openclaw_runtime's files on the host, with the host's own Docker engine.

The role's task files run through ansible-playbook against localhost with the
configuration directory in a temporary directory; the containers they start are
real ones of the runtime image.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from roletasks import RUNTIME_IMAGE, changed_count, docker_answers, run_role_tasks

IMAGE = RUNTIME_IMAGE

pytestmark = pytest.mark.skipif(
    not docker_answers(),
    reason="the Docker engine does not answer (make docker starts it)",
)


def _image_ids() -> tuple[int, int]:
    """The uid and gid the image runs as."""
    out = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "id", IMAGE],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    fields = dict(part.split("=", 1) for part in out.split())
    return int(fields["uid"].split("(")[0]), int(fields["gid"].split("(")[0])


def test_runtime_yaml_is_readable_by_the_replicas_group_only(tmp_path, runtime_image):
    config_dir = tmp_path / "etc"
    variables = {"openclaw_runtime_config_dir": str(config_dir)}
    first = run_role_tasks(tmp_path, "openclaw_runtime", ["vars.yml", "config.yml"], variables)
    assert first.returncode == 0, first.stdout[-4000:]
    config = config_dir / "runtime.yaml"
    st = config.stat()
    uid, gid = _image_ids()
    assert oct(st.st_mode & 0o777) == "0o640"
    assert (st.st_uid, st.st_gid) == (0, gid) and uid != 0
    # As a replica reads it: the image's user, no capability, a read-only bind mount.
    read = subprocess.run(
        [
            "docker", "run", "--rm", "--network", "none", "--read-only",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "-v", f"{config}:/etc/openclaw/runtime.yaml:ro",
            "--entrypoint", "openclaw-runtime", IMAGE,
            "check-config", "/etc/openclaw/runtime.yaml",
        ],
        check=False,
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert read.returncode == 0, read.stdout + read.stderr
    again = run_role_tasks(tmp_path, "openclaw_runtime", ["vars.yml", "config.yml"], variables)
    assert again.returncode == 0, again.stdout[-4000:]
    assert changed_count(again) == 0, again.stdout[-4000:]


@pytest.fixture
def docker_log(tmp_path, monkeypatch) -> Path:
    """Put a `docker` first on PATH that logs its arguments, then runs the real one."""
    real = shutil.which("docker")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "docker.log"
    wrapper = bindir / "docker"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


def _key_tasks_vars(tmp_path: Path) -> dict:
    return {
        "openclaw_runtime_config_dir": str(tmp_path / "etc"),
        "openclaw_runtime_audit_log": str(tmp_path / "log" / "audit.log"),
        "openclaw_runtime_audit_logrotate_enabled": False,
        "openclaw_runtime_keys_dir": str(tmp_path / "controller-keys"),
    }


def test_helper_containers_drop_every_capability_and_still_work(
    tmp_path, runtime_image, docker_log
):
    variables = _key_tasks_vars(tmp_path)
    tasks = ["vars.yml", "config.yml", "audit.yml", "keys.yml"]
    first = run_role_tasks(tmp_path, "openclaw_runtime", tasks, variables)
    assert first.returncode == 0, first.stdout[-4000:]
    again = run_role_tasks(tmp_path, "openclaw_runtime", tasks, variables)
    assert again.returncode == 0, again.stdout[-4000:]
    assert changed_count(again) == 0, again.stdout[-4000:]
    runs = [line for line in docker_log.read_text().splitlines() if line.startswith("run ")]
    # The config check, the store key, the admin key, then the key list of the second run.
    for what in ("check-config", "generate-store-key", " create ", " list "):
        assert any(what in line for line in runs), (what, runs)
    for line in runs:
        assert " --cap-drop ALL " in f" {line} ", line
        assert " --security-opt no-new-privileges " in f" {line} ", line
    keys = tmp_path / "etc" / "keys"
    assert (keys / "store.key").is_file() and (keys / "keys.store").is_file()
    admin = tmp_path / "controller-keys" / "localhost-admin.key"
    assert admin.read_text().startswith("oc_")
    assert oct(admin.stat().st_mode & 0o777) == "0o600"
    # The key.created event reached the audit log from the capability-less container.
    assert '"event":"key.created"' in (tmp_path / "log" / "audit.log").read_text()


def _keys(tmp_path: Path) -> list[dict]:
    """The key store's records (keys list --json, in the image)."""
    keys = tmp_path / "etc" / "keys"
    out = subprocess.run(
        [
            "docker", "run", "--rm", "--network", "none", "-v", f"{keys}:{keys}",
            "--entrypoint", "openclaw-runtime", IMAGE, "keys", "list", "--all", "--json",
            "--store", f"{keys}/keys.store", "--key-file", f"{keys}/store.key",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def _run_keys(tmp_path: Path, **extra) -> subprocess.CompletedProcess[str]:
    variables = {**_key_tasks_vars(tmp_path), **extra}
    tasks = ["vars.yml", "config.yml", "audit.yml", "keys.yml"]
    return run_role_tasks(tmp_path, "openclaw_runtime", tasks, variables)


def test_smoke_key_is_an_inference_client_key_in_a_root_only_host_file(tmp_path, runtime_image):
    first = _run_keys(tmp_path)
    assert first.returncode == 0, first.stdout[-4000:]
    path = tmp_path / "etc" / "inference-client.key"
    key = path.read_text().strip()
    st = path.stat()
    assert (st.st_uid, st.st_gid, oct(st.st_mode & 0o777)) == (0, 0, "0o600")
    key_id = key.split("_")[1]
    records = {r["id"]: r for r in _keys(tmp_path)}
    assert records[key_id]["roles"] == ["inference-client"]
    assert records[key_id]["name"] == "deploy-check"
    assert records[key_id]["state"] == "active"
    # Only the operator's admin key goes to the controller; the client key is in
    # no file there, and never in the play's output.
    controller = tmp_path / "controller-keys"
    assert sorted(p.name for p in controller.iterdir()) == ["localhost-admin.key"]
    assert key not in first.stdout + first.stderr
    again = _run_keys(tmp_path)
    assert again.returncode == 0, again.stdout[-4000:]
    assert changed_count(again) == 0, again.stdout[-4000:]
    assert path.read_text().strip() == key
    # Two weeks before it expires it is replaced and the old one revoked
    # (a 100-day horizon is beyond the 90-day lifetime: due now).
    renew = _run_keys(tmp_path, __openclaw_runtime_client_key_renew_days=100)
    assert renew.returncode == 0, renew.stdout[-4000:]
    new_key = path.read_text().strip()
    assert new_key.startswith("oc_") and new_key != key
    records = {r["id"]: r for r in _keys(tmp_path)}
    assert records[key_id]["state"] == "revoked"
    assert records[new_key.split("_")[1]]["roles"] == ["inference-client"]
    assert key not in renew.stdout and new_key not in renew.stdout


def _create_key(tmp_path: Path, name: str) -> str:
    """A key made by an operator in the same store (keys create, in the image)."""
    keys = tmp_path / "etc" / "keys"
    out = subprocess.run(
        [
            "docker", "run", "--rm", "--network", "none", "-v", f"{keys}:{keys}",
            "--entrypoint", "openclaw-runtime", IMAGE, "keys", "create", "--name", name,
            "--role", "inference-client", "--json",
            "--store", f"{keys}/keys.store", "--key-file", f"{keys}/store.key",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    return json.loads(out)["key"]


def test_operator_key_wins_and_is_never_revoked_by_the_role(tmp_path, runtime_image):
    first = _run_keys(tmp_path, openclaw_runtime_keys_create_client=False)
    assert first.returncode == 0, first.stdout[-4000:]
    operator = _create_key(tmp_path, "ops-gate")
    run = _run_keys(tmp_path, openclaw_runtime_smoke_api_key=operator)
    assert run.returncode == 0, run.stdout[-4000:]
    path = tmp_path / "etc" / "inference-client.key"
    assert path.read_text().strip() == operator
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert operator not in run.stdout
    # No key of the role's own was created beside it.
    assert sorted(r["name"] for r in _keys(tmp_path)) == ["admin", "ops-gate"]
    # The variable removed: the role makes its own key again and leaves the
    # operator's alone (it may serve elsewhere).
    back = _run_keys(tmp_path)
    assert back.returncode == 0, back.stdout[-4000:]
    own = path.read_text().strip()
    assert own != operator
    states = {r["name"]: r["state"] for r in _keys(tmp_path)}
    assert states == {"admin": "active", "ops-gate": "active", "deploy-check": "active"}

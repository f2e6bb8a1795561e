"""playbooks/rotate_keys.yml against a real key store and a real runtime on this machine.

The runtime role's own key tasks create the store, an admin key and the
inference-client key in a temporary configuration directory (as they do on a
host); a runtime container of the image serves with that store. The playbook
then runs against localhost, as AWX would schedule it: the new key works at
once, the old one works through the grace period and stops after it, the next
run revokes it, and the file hook holds the new key in a 0600 file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from roletasks import (
    ROOT,
    changed_count,
    docker_answers,
    free_port,
    run_playbook,
    run_role_tasks,
)

pytestmark = pytest.mark.skipif(
    not docker_answers(),
    reason="the Docker engine does not answer (make docker starts it)",
)
PLAYBOOK = str(ROOT / "playbooks" / "rotate_keys.yml")
GRACE_SECONDS = 60


def _status(port: int, key: str) -> int:
    """HTTP status of GET /v2 (permission model:read) with ``key``."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v2", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:  # not listening yet
        return 0


def _wait_status(port: int, key: str, want: int, timeout: float = 20) -> int:
    """Poll until ``key`` gets ``want`` (the runtime rereads the store every 2 s)."""
    end = time.monotonic() + timeout
    got = _status(port, key)
    while got != want and time.monotonic() < end:
        time.sleep(0.5)
        got = _status(port, key)
    return got


def _keys(config_dir: Path, image: str) -> list[dict]:
    keys_dir = config_dir / "keys"
    out = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-v", f"{keys_dir}:{keys_dir}",
         "--entrypoint", "openclaw-runtime", image, "keys", "list", "--all", "--json",
         "--store", str(keys_dir / "keys.store"), "--key-file", str(keys_dir / "store.key")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout)


@pytest.fixture
def deployed(tmp_path, runtime_image):
    """A key store made by the role's key tasks and a runtime serving with it."""
    config_dir = tmp_path / "etc"
    artifacts = tmp_path / "artifacts"
    variables = {
        "openclaw_runtime_config_dir": str(config_dir),
        "openclaw_runtime_keys_dir": str(artifacts / "keys"),
        "openclaw_runtime_audit_enabled": False,
    }
    made = run_role_tasks(tmp_path, "openclaw_runtime", ["vars.yml", "keys.yml"], variables)
    assert made.returncode == 0, made.stdout[-4000:]
    admin_key = (artifacts / "keys" / "localhost-admin.key").read_text().strip()
    models = tmp_path / "models"
    models.mkdir()
    port = free_port()
    name = f"oc-rotate-{uuid.uuid4().hex[:8]}"
    keys_dir = config_dir / "keys"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000",
         "-v", f"{keys_dir}:{keys_dir}:ro", "-v", f"{models}:/models:ro",
         runtime_image, "serve", "--repository", "/models", "--workers", "1",
         "--set", f"auth.key_store={keys_dir / 'keys.store'}",
         "--set", f"auth.key_store_key_file={keys_dir / 'store.key'}",
         "--set", "auth.audit_log=-"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    try:
        assert _wait_status(port, admin_key, 200, timeout=60) == 200, subprocess.run(
            ["docker", "logs", name], check=False, capture_output=True, text=True
        ).stderr[-3000:]
        yield {
            "variables": variables,
            "config_dir": config_dir,
            "artifacts": artifacts,
            "admin_key": admin_key,
            "port": port,
            "image": runtime_image,
        }
    finally:
        subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True)


def _inventory(tmp_path: Path) -> Path:
    """localhost as the one host of group openclaw."""
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  children:\n    openclaw:\n      hosts:\n        localhost:\n")
    return inv


def _rotate(tmp_path: Path, deployed: dict, *flags: str, **extra) -> subprocess.CompletedProcess:
    variables = {
        **deployed["variables"],
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "openclaw_rotate_keys_hook_dir": str(deployed["artifacts"] / "hook"),
        "openclaw_rotate_keys_report_dir": str(deployed["artifacts"] / "report"),
        **extra,
    }
    return run_playbook(
        [PLAYBOOK, "-i", str(_inventory(tmp_path)), "-e", json.dumps(variables), *flags],
        tmp_path / f"home-{time.monotonic_ns()}",
        ANSIBLE_LOCALHOST_WARNING="0",
    )  # fmt: skip


def test_rotation_hands_over_the_new_key_and_revokes_the_old_after_the_grace(tmp_path, deployed):
    port, old_key = deployed["port"], deployed["admin_key"]
    old_id = old_key.split("_")[1]
    common = {"openclaw_rotate_keys_min_age_days": 0}

    # --check: reports, changes nothing.
    check = _rotate(tmp_path, deployed, "--check", **common)
    assert check.returncode == 0, check.stdout[-4000:]
    assert [k["state"] for k in _keys(deployed["config_dir"], deployed["image"])
            if k["id"] == old_id] == ["active"]  # fmt: skip
    assert not (deployed["artifacts"] / "hook").exists()

    started = time.monotonic()
    run = _rotate(
        tmp_path, deployed,
        openclaw_rotate_keys_grace_days=GRACE_SECONDS / 86400, **common,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:]
    hook = deployed["artifacts"] / "hook" / "localhost-admin.key"
    assert oct(hook.stat().st_mode & 0o777) == "0o600"
    assert oct(hook.parent.stat().st_mode & 0o777) == "0o700"
    new_key = hook.read_text().strip()
    assert new_key.startswith("oc_") and new_key != old_key
    assert new_key not in run.stdout and new_key not in run.stderr

    records = {k["id"]: k for k in _keys(deployed["config_dir"], deployed["image"])}
    assert records[old_id]["state"] == "rotating"
    new_id = new_key.split("_")[1]
    assert records[old_id]["replaced_by"] == new_id
    assert records[new_id]["state"] == "active" and records[new_id]["name"] == "admin"
    # The inference-client key was not named: untouched.
    client = [k for k in records.values() if k["name"] == "deploy-check"]
    assert [k["state"] for k in client] == ["active"]

    assert _wait_status(port, new_key, 200) == 200
    if time.monotonic() - started < GRACE_SECONDS - 5:
        assert _status(port, old_key) == 200  # inside the grace period
    report = json.loads((deployed["artifacts"] / "report" / "localhost.json").read_text())
    assert report["rotated"] == [old_id] and report["new"] == [new_id]

    # A second run the same day (default min age 1 day) rotates nothing.
    again = _rotate(tmp_path, deployed, openclaw_rotate_keys_enabled=True)
    assert again.returncode == 0, again.stdout[-4000:]
    assert hook.read_text().strip() == new_key

    # After the grace the old key is refused, and the next run revokes it.
    time.sleep(max(0.0, started + GRACE_SECONDS + 1 - time.monotonic()))
    assert _wait_status(port, old_key, 401) == 401
    revoke = _rotate(tmp_path, deployed, openclaw_rotate_keys_enabled=False)
    assert revoke.returncode == 0, revoke.stdout[-4000:]
    assert changed_count(revoke) >= 1
    records = {k["id"]: k for k in _keys(deployed["config_dir"], deployed["image"])}
    assert records[old_id]["state"] == "revoked"
    assert records[new_id]["state"] == "active"
    assert _status(port, new_key) == 200
    report = json.loads((deployed["artifacts"] / "report" / "localhost.json").read_text())
    assert report["revoked"] == [old_id] and report["rotated"] == []

    # Keys live 90 days: a 100-day horizon covers both active ones; none rotated.
    expiring = _rotate(
        tmp_path, deployed,
        openclaw_rotate_keys_enabled=False, openclaw_rotate_keys_expiry_warn_days=100,
        openclaw_rotate_keys_fail_on_expiring=True,
    )  # fmt: skip
    assert expiring.returncode != 0
    assert "2 key(s) expire within 100 days" in expiring.stdout, expiring.stdout[-3000:]
    assert "Add their names to openclaw_rotate_keys_names" in expiring.stdout
    report = json.loads((deployed["artifacts"] / "report" / "localhost.json").read_text())
    assert sorted(k["name"] for k in report["expiring_soon"]) == ["admin", "deploy-check"]
    assert new_id in {k["id"] for k in report["expiring_soon"]}
    assert all("digest" not in k for k in report["expiring_soon"])


def test_bad_variables_get_a_clear_error(tmp_path):
    """Checked before anything on the host: no store or runtime needed."""
    deployed = {"variables": {}, "artifacts": tmp_path / "artifacts"}
    run = _rotate(tmp_path, deployed, openclaw_rotate_keys_hook="email")
    assert run.returncode != 0
    assert "openclaw_rotate_keys_hook" in run.stdout and "file, webhook, none" in run.stdout
    run = _rotate(tmp_path, deployed, openclaw_rotate_keys_hook="webhook")
    assert run.returncode != 0
    assert "set it to the http(s) URL" in run.stdout

"""playbooks/cloud_init.yml run with ansible-playbook against localhost (no
Molecule): the rendered #cloud-config does what the guide's section 4.1 asks
and passes cloud-init's own schema check when cloud-init is installed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from roletasks import ansible_playbook

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "cloud_init.yml"

# Our own contract for the generated file, independent of cloud-init's schema:
# the keys the guide needs, with the values a new host depends on.
USER_DATA_SCHEMA = {
    "type": "object",
    "required": ["package_update", "package_upgrade", "packages", "users", "runcmd"],
    "properties": {
        "package_update": {"const": True},
        "package_upgrade": {"type": "boolean"},
        "packages": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "uniqueItems": True,
        },
        "users": {
            "type": "array",
            "contains": {
                "type": "object",
                "required": ["name", "ssh_authorized_keys", "sudo", "shell"],
                "properties": {"ssh_authorized_keys": {"type": "array", "minItems": 1}},
            },
        },
        "runcmd": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
    },
}


def run_playbook(tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        ANSIBLE_HOME=str(tmp / "ansible-home"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_CALLBACK_RESULT_FORMAT="json",
    )
    return subprocess.run(
        [
            ansible_playbook(),
            str(PLAYBOOK),
            "-e",
            f"openclaw_cloud_init_output_dir={tmp / 'out'}",
            *extra,
        ],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def keypair(tmp_path_factory) -> Path:
    key = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "controller@test", "-f", str(key)],
        check=True,
    )
    return key.with_suffix(".pub")


def _key_files(pub: Path) -> str:
    return json.dumps({"openclaw_cloud_init_ssh_public_key_files": [str(pub)]})


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, keypair):
    tmp = tmp_path_factory.mktemp("cloud-init")
    first = run_playbook(tmp, "-e", _key_files(keypair))
    assert first.returncode == 0, first.stdout + first.stderr
    second = run_playbook(tmp, "-e", _key_files(keypair))
    assert second.returncode == 0, second.stdout + second.stderr
    path = tmp / "out" / "user-data.yaml"
    return {
        "path": path,
        "text": path.read_text(),
        "data": yaml.safe_load(path.read_text()),
        "first": first,
        "second": second,
    }


def _recap_changed(output: str) -> int:
    match = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", output)
    assert match, output
    return int(match.group(1))


def test_file_is_cloud_config(rendered):
    assert rendered["text"].splitlines()[0] == "#cloud-config"
    jsonschema.validate(rendered["data"], USER_DATA_SCHEMA)


def test_packages_are_upgraded_and_docker_installed(rendered):
    data = rendered["data"]
    assert data["package_upgrade"] is True
    assert "docker.io" in data["packages"]
    assert "python3-docker" in data["packages"]


def test_docker_is_enabled_and_deploy_user_joins_its_group(rendered):
    runcmd = rendered["data"]["runcmd"]
    assert ["systemctl", "enable", "--now", "docker"] in runcmd
    assert ["usermod", "-aG", "docker", "deploy"] in runcmd


def test_deploy_user_gets_the_controller_key(rendered, keypair):
    users = [u for u in rendered["data"]["users"] if isinstance(u, dict)]
    deploy = next(u for u in users if u["name"] == "deploy")
    assert deploy["ssh_authorized_keys"] == [keypair.read_text().strip()]
    assert deploy["lock_passwd"] is True
    assert deploy["sudo"] == "ALL=(ALL) NOPASSWD:ALL"


def test_security_group_ports_are_noted(rendered):
    comments = [line for line in rendered["text"].splitlines() if line.startswith("#")]
    noted = {int(p) for line in comments for p in re.findall(r"tcp/(\d+)", line)}
    assert noted == {22, 80, 443}


@pytest.mark.skipif(
    shutil.which("cloud-init") is None,
    reason="cloud-init not installed (Debian package cloud-init)",
)
def test_cloud_init_schema_accepts_the_file(rendered):
    check = subprocess.run(
        ["cloud-init", "schema", "--config-file", str(rendered["path"])],
        check=False,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "validated with cloud-init schema" in rendered["first"].stdout


def test_second_run_changes_nothing(rendered):
    assert _recap_changed(rendered["first"].stdout) > 0
    assert _recap_changed(rendered["second"].stdout) == 0


def test_docker_repository_source_installs_docker_ce(tmp_path, keypair):
    result = run_playbook(
        tmp_path, "-e", _key_files(keypair), "-e", "openclaw_cloud_init_docker_source=docker"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = yaml.safe_load((tmp_path / "out" / "user-data.yaml").read_text())
    assert {"docker-ce", "docker-ce-cli", "containerd.io"} <= set(data["packages"])
    assert "docker.io" not in data["packages"]
    source = data["apt"]["sources"]["docker.list"]
    assert "download.docker.com" in source["source"]
    assert re.fullmatch(r"[0-9A-F]{40}", source["keyid"])


def test_missing_key_fails_with_advice(tmp_path):
    result = run_playbook(tmp_path, "-e", _key_files(tmp_path / "absent.pub"))
    assert result.returncode != 0
    assert "ssh-keygen -t ed25519" in result.stdout
    assert not (tmp_path / "out" / "user-data.yaml").exists()

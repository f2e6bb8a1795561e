"""The lock-out guard of openclaw_ssh, exercised the way an operator meets it:
ansible-playbook over SSH as a sudo user, from the control node."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parents[1]
PROJECT = SCENARIO.parents[1]


@pytest.fixture(scope="module")
def operator(host, tmp_path_factory):
    """A key on the control node, authorized for deploy (a sudo user in sshusers)."""
    key = tmp_path_factory.mktemp("guard") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    pub = key.with_suffix(".pub").read_text().strip()
    host.check_output(
        "install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh"
        " && echo %s >> /home/deploy/.ssh/authorized_keys"
        " && chown deploy: /home/deploy/.ssh/authorized_keys",
        pub,
    )
    name = host.backend.get_hostname()
    address = subprocess.run(
        [
            "docker",
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            name,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return key, address


def play(operator, *args):
    key, address = operator
    env = dict(
        os.environ,
        ANSIBLE_ROLES_PATH=str(PROJECT / "roles"),
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_FORCE_COLOR="false",
        ANSIBLE_NOCOLOR="true",
    )
    cmd = [
        shutil.which("ansible-playbook") or "ansible-playbook",
        "-i",
        f"{address},",
        "-u",
        "deploy",
        "--private-key",
        str(key),
        "-b",
        "-e",
        "ansible_python_interpreter=/usr/bin/python3",
        *args,
        str(SCENARIO / "converge.yml"),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)


def test_guard_refuses_settings_that_lock_out_the_operator(host, operator):
    before = host.file("/etc/ssh/sshd_config.d/00-openclaw.conf").content_string
    res = play(
        operator, "--tags", "sshd", "-e", json.dumps({"openclaw_ssh_allow_groups": ["admins"]})
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "Refusing to harden sshd" in out, out[-3000:]
    # Nothing was written: sshd still admits the operator's group.
    assert host.file("/etc/ssh/sshd_config.d/00-openclaw.conf").content_string == before
    assert "allowgroups sshusers" in host.check_output("sshd -T")


def test_guard_lets_a_safe_run_through_over_ssh(host, operator):
    res = play(operator, "--tags", "sshd", "--check")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    # The guard ran over SSH and passed for deploy (in sshusers, with a key).
    guard = res.stdout.split("Assert the new settings still let Ansible log in", 1)
    assert len(guard) == 2 and guard[1].split("TASK", 1)[0].count("ok:") == 1, res.stdout

"""Run task files of our roles on localhost through ansible-playbook (no Molecule).

Used by the playbook tests that need the host's own Docker engine: each call gets
a fresh HOME (docker_login keeps credentials there) and the repository's
ansible.cfg and roles, and the modules run with this interpreter (it has the
Docker SDK).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ansible_playbook() -> str:
    """The ansible-playbook next to this interpreter (the .venv), else the one on PATH."""
    local = Path(sys.executable).with_name("ansible-playbook")
    return str(local) if local.exists() else shutil.which("ansible-playbook") or "ansible-playbook"


def docker_answers() -> bool:
    """True when the Docker engine answers (make docker starts it)."""
    return subprocess.run(["docker", "info"], check=False, capture_output=True).returncode == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def run_role_tasks(
    tmp: Path, role: str, task_files: list[str], variables: dict, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """Include ``task_files`` of ``role`` in order on localhost; return the finished run."""
    tasks = "".join(
        f"    - name: {role} {name}\n"
        "      ansible.builtin.include_role:\n"
        f"        name: {role}\n"
        f"        tasks_from: {name}\n"
        for name in task_files
    )
    playbook = tmp / f"play-{time.monotonic_ns()}.yml"
    playbook.write_text(
        f"- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n{tasks}"
    )
    home = tmp / f"home-{time.monotonic_ns()}"
    home.mkdir()
    env = dict(
        os.environ,
        HOME=str(home),
        ANSIBLE_HOME=str(home / ".ansible"),
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
    )
    extra = {"ansible_python_interpreter": sys.executable, **variables}
    cmd = [ansible_playbook(), str(playbook)]
    cmd += ["-i", "localhost,", "-e", json.dumps(extra)]
    return subprocess.run(
        cmd, check=False, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout
    )


def changed_count(out: subprocess.CompletedProcess[str]) -> int:
    """Return the ``changed=`` figure of the run's recap."""
    recap = [line for line in out.stdout.splitlines() if line.startswith("localhost ")][-1]
    return int(recap.split("changed=")[1].split()[0])

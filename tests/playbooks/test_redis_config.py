"""openclaw_redis's redis.conf in Debian's redis-server: the role's template,
rendered by Ansible, must give Redis exactly the password the inventory holds,
whatever it contains (a Vault password may hold spaces, quotes, '#' or
backslashes; unquoted, Redis read a different password or refused the file).
The password is checked the way the role checks it: redis-cli with
REDISCLI_AUTH, never on the command line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from roletasks import ROOT, free_port, run_playbook, start_server, stop_server

pytestmark = pytest.mark.skipif(
    not (shutil.which("redis-server") and shutil.which("redis-cli")),
    reason="redis-server missing: make bootstrap (requirements/apt.txt)",
)

PASSWORDS = [
    "plainLetters0123",
    'with space "quoted" #hash \\back\\slash $dollar',
    "trailing-backslash\\",
    "two\nlines",
]


def _render(tmp: Path, password: str, port: int) -> Path:
    conf = tmp / "redis.conf"
    variables = {
        "ansible_python_interpreter": sys.executable,
        "openclaw_redis_bind_address": "127.0.0.2",  # the template adds 127.0.0.1
        "openclaw_redis_port": port,
        "openclaw_redis_maxmemory": "16mb",
        "openclaw_redis_maxmemory_policy": "allkeys-lru",
        "openclaw_redis_persistence_enabled": False,
        "__openclaw_redis_password": password,
        "__openclaw_redis_logfile": str(tmp / "redis-server.log"),
        "__openclaw_redis_dir": str(tmp),
    }
    playbook = tmp / "render.yml"
    playbook.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.template:\n"
        f"        src: {ROOT / 'roles/openclaw_redis/templates/redis.conf.j2'}\n"
        f"        dest: {conf}\n"
        "        mode: '0600'\n"
    )
    run = run_playbook(
        [str(playbook), "-i", "localhost,", "-e", json.dumps(variables)], tmp / "home"
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return conf


def _ping(port: int, password: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
    if password is not None:
        env["REDISCLI_AUTH"] = password
    out = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "PING"],
        capture_output=True,
        text=True,
        env=env,
        timeout=10,
        check=False,
    )
    return (out.stdout + out.stderr).strip()


@pytest.mark.parametrize("password", PASSWORDS, ids=["letters", "specials", "backslash", "newline"])
def test_redis_takes_exactly_the_inventory_password(tmp_path, password):
    port = free_port()
    conf = _render(tmp_path, password, port)
    server = start_server(
        ["redis-server", str(conf), "--pidfile", str(tmp_path / "redis.pid")],
        ("127.0.0.1", port),
        tmp_path / "redis.log",
        "redis-server",
    )
    try:
        assert _ping(port, password) == "PONG"
        assert "NOAUTH" in _ping(port, None)
        assert "WRONGPASS" in _ping(port, password + "x")
    finally:
        stop_server(server)

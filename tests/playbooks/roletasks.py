"""Run task files of our roles on localhost through ansible-playbook (no Molecule).

Used by the playbook tests that need the host's own Docker engine: each call gets
a fresh HOME (docker_login keeps credentials there) and the repository's
ansible.cfg and roles, and the modules run with this interpreter (it has the
Docker SDK).
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# The runtime image the role deploys (scripts/build-runtime-image.sh builds it).
RUNTIME_IMAGE = (
    "openclaw/runtime:"
    + tomllib.loads((ROOT / "runtime" / "pyproject.toml").read_text())["project"]["version"]
)


def ansible_playbook() -> str:
    """The ansible-playbook next to this interpreter (the .venv), else the one on PATH."""
    local = Path(sys.executable).with_name("ansible-playbook")
    return str(local) if local.exists() else shutil.which("ansible-playbook") or "ansible-playbook"


def run_playbook(
    args: list[str], home: Path, timeout: int = 300, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    """Run ansible-playbook ``args`` from the repository root with its ansible.cfg and
    roles, Ansible's state under ``home``; return the finished process."""
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_HOME": str(home),
        **extra_env,
    }
    return subprocess.run(
        [ansible_playbook(), *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


def docker_answers() -> bool:
    """True when the Docker engine answers (make docker starts it)."""
    return subprocess.run(["docker", "info"], check=False, capture_output=True).returncode == 0


def _interface_ipv4(name: str) -> str | None:
    """The IPv4 address of network interface ``name`` (SIOCGIFADDR), None when it has none."""
    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(s.fileno(), siocgifaddr, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def docker_bridge_address() -> str:
    """The host's address on Docker's default bridge, which containers there can reach.

    The bridge network's IPAM ``Gateway`` is empty on a freshly installed docker.io
    20.10 (its config holds only the subnet), so the address is read from the
    bridge interface itself (``docker0`` unless the network names another), and
    only then from ``Gateway``, or else the subnet's first host address.
    """
    out = subprocess.run(
        ["docker", "network", "inspect", "bridge"], check=True, capture_output=True, text=True
    )
    network = json.loads(out.stdout)[0]
    iface = (network.get("Options") or {}).get("com.docker.network.bridge.name", "docker0")
    address = _interface_ipv4(iface)
    if address:
        return address
    for config in (network.get("IPAM") or {}).get("Config") or []:
        if config.get("Gateway"):
            return config["Gateway"].split("/")[0]
        if config.get("Subnet") and ":" not in config["Subnet"]:
            return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))
    raise AssertionError(f"cannot tell Docker's bridge address from: {out.stdout[:2000]}")


def start_server(
    cmd: list[str], address: tuple[str, int], log: Path, what: str, timeout: float = 30, **popen
) -> subprocess.Popen:
    """Start ``cmd`` and wait until ``address`` accepts connections.

    A server that exits fails the test at once with the end of its log (not after
    the whole timeout); one that never listens fails with its log after ``timeout``.
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **popen)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(address, timeout=1).close()
            return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise AssertionError(
                f"{what} exited with status {proc.returncode} before listening on "
                f"{address[0]}:{address[1]}; its log:\n{log.read_text()[-3000:]}"
            )
        if time.monotonic() > deadline:
            proc.terminate()
            proc.wait(10)
            raise AssertionError(
                f"{what} did not listen on {address[0]}:{address[1]} within {timeout:.0f}s; "
                f"its log:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.1)


def stop_server(proc: subprocess.Popen) -> None:
    """Terminate a server started by :func:`start_server` and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


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


def render_loadbalancer(
    tmp: Path, inventory: dict, play_vars: dict, extra_vars: dict | None = None
) -> tuple[list[dict], str]:
    """The load balancer role's backend slots and haproxy.cfg for ``inventory``.

    ansible-playbook computes them with the role's own tasks (servers.yml) and
    template on localhost; nothing is installed. ``extra_vars`` (-e) override
    the role's internal vars too (paths of the certificate and the admin socket).
    """
    (tmp / "hosts.yml").write_text(yaml.safe_dump(inventory))
    out, cfg = tmp / "servers.json", tmp / "haproxy.cfg"
    template = ROOT / "roles/openclaw_loadbalancer/templates/haproxy.cfg.j2"
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "openclaw_loadbalancer_metrics_address": "127.0.0.1",
                "__openclaw_loadbalancer_group": "haproxy",
                **play_vars,
            },
            "tasks": [
                {
                    "ansible.builtin.include_role": {
                        "name": "openclaw_loadbalancer",
                        "tasks_from": "servers.yml",
                        "public": True,
                    }
                },
                {
                    "ansible.builtin.copy": {
                        "dest": str(out),
                        "content": "{{ __openclaw_loadbalancer_servers | to_json }}",
                        "mode": "0644",
                    }
                },
                {
                    "ansible.builtin.template": {
                        "src": str(template),
                        "dest": str(cfg),
                        "mode": "0644",
                    }
                },
            ],
        }
    ]
    (tmp / "play.yml").write_text(yaml.safe_dump(play))
    args = ["-i", str(tmp / "hosts.yml"), str(tmp / "play.yml")]
    if extra_vars:
        args += ["-e", json.dumps(extra_vars)]
    run = run_playbook(args, tmp / "home")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return json.loads(out.read_text()), cfg.read_text()

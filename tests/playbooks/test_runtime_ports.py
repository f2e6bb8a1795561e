"""The replicas' host ports have one definition, openclaw_runtime_port_base and
openclaw_runtime_replicas in the inventory: the runtime role publishes them, and
the preflight port check, the firewall's internal runtime ports, fail2ban's
runtime jail and the SELinux port labels are derived from the same two. Without
them every role keeps its own default (the preflight check 8001/8002, firewall,
fail2ban and SELinux 8000-8009).

The values are what ansible-playbook itself computes from the roles' defaults
and vars (the roles are listed with `when: false`, so no task of theirs runs).
"""

from __future__ import annotations

import json
import sys

import yaml
from roletasks import ROOT, run_playbook

INVENTORY = {
    "all": {
        "hosts": {
            "three": {"openclaw_runtime_port_base": 9001, "openclaw_runtime_replicas": 3},
            "one": {"openclaw_runtime_port_base": 9001, "openclaw_runtime_replicas": 1},
            "unset": {},
            # Blue-green: the green colour's ports (base + offset) join the
            # firewall, fail2ban and SELinux lists; the runtime role publishes
            # the colour it deploys.
            "bluegreen": {
                "openclaw_runtime_port_base": 9001,
                "openclaw_runtime_replicas": 3,
                "openclaw_bluegreen_enabled": True,
                "openclaw_bluegreen_port_offset": 50,
                "openclaw_runtime_colour": "green",
            },
            # The load balancer's server slots (scale.yml fills them without
            # re-running the hardening roles): the firewall, fail2ban and
            # SELinux cover every slot of both colours; the runtime still
            # publishes its two replicas, and preflight checks those.
            "slots": {
                "openclaw_runtime_port_base": 9001,
                "openclaw_runtime_replicas": 2,
                "openclaw_bluegreen_enabled": True,
                "openclaw_bluegreen_port_offset": 50,
                "openclaw_loadbalancer_max_replicas_per_host": 4,
            },
            # Fewer slots than replicas: the replicas win.
            "fewer_slots": {
                "openclaw_runtime_port_base": 9001,
                "openclaw_runtime_replicas": 3,
                "openclaw_loadbalancer_max_replicas_per_host": 1,
            },
        }
    }
}
EXPECTED = {
    "three": {
        "runtime": [9001, 9002, 9003],
        "preflight": [80, 443, 9001, 9002, 9003],
        "firewall": "9001-9003",
        "fail2ban": "80,443,9001-9003",
        "selinux": ["9001-9003"],
        "firewall_green": [],
    },
    "one": {
        "runtime": [9001],
        "preflight": [80, 443, 9001],
        "firewall": "9001",
        "fail2ban": "80,443,9001",
        "selinux": ["9001"],
        "firewall_green": [],
    },
    # The defaults as they were before the derivation.
    "unset": {
        "runtime": [8001, 8002],
        "preflight": [80, 443, 8001, 8002],
        "firewall": "8000-8009",
        "fail2ban": "80,443,8000-8009",
        "selinux": ["8000-8009"],
        "firewall_green": [],
    },
    "bluegreen": {
        "runtime": [9051, 9052, 9053],
        "preflight": [80, 443, 9001, 9002, 9003],
        "firewall": "9001-9003",
        "fail2ban": "80,443,9001-9003,9051-9053",
        "selinux": ["9001-9003", "9051-9053"],
        "firewall_green": ["9051-9053"],
    },
    "slots": {
        "runtime": [9001, 9002],
        "preflight": [80, 443, 9001, 9002],
        "firewall": "9001-9004",
        "fail2ban": "80,443,9001-9004,9051-9054",
        "selinux": ["9001-9004", "9051-9054"],
        "firewall_green": ["9051-9054"],
    },
    "fewer_slots": {
        "runtime": [9001, 9002, 9003],
        "preflight": [80, 443, 9001, 9002, 9003],
        "firewall": "9001-9003",
        "fail2ban": "80,443,9001-9003",
        "selinux": ["9001-9003"],
        "firewall_green": [],
    },
}
WRITE = (
    "{{ {'runtime': __openclaw_runtime_ports | map('int') | list} | to_json }}",
    "{{ {'preflight': openclaw_preflight_ports | map('int') | list,"
    " 'firewall': (openclaw_firewall_internal_ports | selectattr('name', 'equalto', 'runtime')"
    " | first).port | string, 'fail2ban': openclaw_fail2ban_runtime_ports | string,"
    " 'selinux': openclaw_selinux_ports | map('string') | list,"
    " 'firewall_green': openclaw_firewall_internal_ports"
    " | selectattr('name', 'equalto', 'runtime-green')"
    " | map(attribute='port') | map('string') | list} | to_json }}",
)


def _play(roles: list[str], out: str, content: str) -> dict:
    """A play that loads ``roles`` without running them and writes ``content`` per host."""
    return {
        "hosts": "all",
        "gather_facts": False,
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "roles": [{"role": role, "when": False} for role in roles],
        "post_tasks": [
            {
                "ansible.builtin.copy": {
                    "dest": f"{out}/{{{{ inventory_hostname }}}}.json",
                    "content": content,
                    "mode": "0644",
                }
            }
        ],
    }


def _decide(tmp_path, inventory: str, limit: str | None = None) -> dict[str, dict]:
    runtime, others = tmp_path / "runtime", tmp_path / "others"
    runtime.mkdir()
    others.mkdir()
    playbook = tmp_path / "ports.yml"
    # The hardening roles run in plays without the runtime role (harden.yml),
    # so they see only what the inventory says.
    playbook.write_text(
        yaml.safe_dump(
            [
                _play(["openclaw_runtime"], str(runtime), WRITE[0]),
                _play(
                    [
                        "openclaw_preflight",
                        "openclaw_firewall",
                        "openclaw_fail2ban",
                        "openclaw_selinux",
                    ],
                    str(others),
                    WRITE[1],
                ),
            ]
        )
    )
    args = ["-i", inventory, str(playbook)]
    if limit:
        args += ["--limit", limit]
    run = run_playbook(args, tmp_path / "ansible-home")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return {
        path.stem: {**json.loads(path.read_text()), **json.loads((others / path.name).read_text())}
        for path in runtime.glob("*.json")
    }


def test_every_role_derives_the_replica_ports_from_the_inventory(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump(INVENTORY))
    assert _decide(tmp_path, str(inventory)) == EXPECTED


def test_the_sandbox_inventory_is_the_one_definition(tmp_path):
    decided = _decide(tmp_path, str(ROOT / "inventories" / "sandbox"), "openclaw-sandbox")
    assert decided == {
        "openclaw-sandbox": {
            "runtime": [8001, 8002],
            "preflight": [80, 443, 8001, 8002],
            "firewall": "8001-8002",
            "fail2ban": "80,443,8001-8002",
            "selinux": ["8001-8002"],
            "firewall_green": [],
        }
    }

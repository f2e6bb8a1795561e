"""One switch for "this host runs the runtime": playbooks/runtime.yml (deploys the
replicas) and openclaw_fail2ban (its openclaw-auth jail) must decide alike for
every host, whether the inventory sets openclaw_runtime_enabled or not.

Both decisions are evaluated by ansible-playbook itself for hosts of a
throw-away inventory: runtime.yml's `when:` as written in the playbook, and
the fail2ban role's own default as the role loads it.
"""

from __future__ import annotations

import json
import sys

import yaml
from roletasks import ROOT, run_playbook

INVENTORY = {
    "all": {
        "hosts": {
            "bare": {},
            "switched-on": {"openclaw_runtime_enabled": True},
        },
        "children": {
            "openclaw": {
                "hosts": {
                    "member": {},
                    "member-off": {"openclaw_runtime_enabled": False},
                    "member-on": {"openclaw_runtime_enabled": "true"},
                }
            }
        },
    }
}
EXPECTED = {
    "bare": False,
    "switched-on": True,
    "member": True,
    "member-off": False,
    "member-on": True,
}


def _runtime_play_when() -> str:
    play = yaml.safe_load((ROOT / "playbooks" / "runtime.yml").read_text())[0]
    (entry,) = [r for r in play["roles"] if r["role"] == "openclaw_runtime"]
    return entry["when"]


def test_runtime_play_and_fail2ban_jail_decide_alike(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump(INVENTORY))
    out = tmp_path / "out"
    out.mkdir()
    playbook = tmp_path / "decide.yml"
    decisions = (
        "{{ {'runtime_play': (" + _runtime_play_when() + "),"
        " 'fail2ban_jail': openclaw_fail2ban_runtime_enabled | bool} | to_json }}"
    )
    tasks = [
        {
            "ansible.builtin.include_role": {
                "name": "openclaw_fail2ban",
                "tasks_from": "set_vars.yml",
                "public": True,
            }
        },
        {
            "ansible.builtin.copy": {
                "dest": f"{out}/{{{{ inventory_hostname }}}}.json",
                "content": decisions,
                "mode": "0644",
            }
        },
    ]
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    playbook.write_text(
        yaml.safe_dump([{"hosts": "all", "gather_facts": False, "vars": local, "tasks": tasks}])
    )
    run = run_playbook(["-i", str(inventory), str(playbook)], tmp_path / "ansible-home")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    for host, expected in EXPECTED.items():
        decided = json.loads((out / f"{host}.json").read_text())
        assert decided == {"runtime_play": expected, "fail2ban_jail": expected}, (host, decided)

"""Render openclaw_monitoring's templates the way the role does, on the controller.

ansible-playbook loads the role without running it (``when: false``: its
defaults and vars are in scope), then writes the requested templates of the
role for the first host of the monitoring group. Variables given here are
extra vars, as an operator's ``-e`` or Vault file would set them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# One way to run ansible-playbook for every test folder: tests/playbooks' helpers.
sys.path.insert(0, str(ROOT / "tests" / "playbooks"))
from roletasks import run_playbook  # noqa: E402

ROLE = ROOT / "roles" / "openclaw_monitoring"
# template -> file name it is written to
TEMPLATES = {
    "rules": "openclaw.rules.yml.j2",
    "prometheus": "prometheus.yml.j2",
    "alertmanager": "alertmanager.yml.j2",
    "relay": "relay.yml.j2",
}


def render(
    out: Path, names: list[str], extra_vars: dict | None = None, inventory: dict | None = None
) -> dict[str, Path]:
    """Write the templates ``names`` (keys of TEMPLATES) into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    inventory = inventory or {"all": {"children": {"monitoring": {"hosts": {"mon": {}}}}}}
    write_inputs(out, inventory, extra_vars)
    play = {
        "hosts": "monitoring[0]",
        "gather_facts": False,
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "roles": [{"role": "openclaw_monitoring", "when": False}],
        "post_tasks": [
            {
                "name": f"Render {name}",
                "ansible.builtin.template": {
                    "src": str(ROLE / "templates" / TEMPLATES[name]),
                    "dest": str(out / f"{name}.yml"),
                    "mode": "0600",
                },
            }
            for name in names
        ],
    }
    run_play(out, play)
    return {name: out / f"{name}.yml" for name in names}


def write_inputs(out: Path, inventory: dict, extra_vars: dict | None) -> None:
    """The inventory and the extra vars of a run_play() run, as files in ``out``."""
    (out / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (out / "vars.json").write_text(json.dumps(extra_vars or {}))


def run_play(out: Path, play: dict) -> None:
    """Run ``play`` with the repository's ansible.cfg and roles, the inventory and
    extra vars that write_inputs() put in ``out``; fail with Ansible's output."""
    (out / "render.yml").write_text(yaml.safe_dump([play]))
    args = ["-i", str(out / "hosts.yml"), "-e", f"@{out / 'vars.json'}", str(out / "render.yml")]
    run = run_playbook(args, out / "ansible-home")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]

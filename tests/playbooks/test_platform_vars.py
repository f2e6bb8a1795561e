"""The roles' platform variables have one loader, openclaw.platform.platform_vars.

Every role with vars/<platform>.yml files imports it instead of carrying its own
include_vars loop (there were eight copies with two file-name separators). The
loader is run here by ansible-playbook on each role's real vars/ directory with
the facts of Debian 12, Debian 13 and two EL 9 distributions, and must load
exactly the files that exist of <os_family>.yml, <distribution>.yml and
<distribution>_<major>.yml, in that order, with the later file's value winning.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from roletasks import ROOT, run_playbook

LOADER = "openclaw.platform.platform_vars"
FACTS = ("os_family", "distribution", "distribution_major_version")
PLATFORMS = {
    "debian12": {
        "os_family": "Debian",
        "distribution": "Debian",
        "distribution_major_version": "12",
    },
    "debian13": {
        "os_family": "Debian",
        "distribution": "Debian",
        "distribution_major_version": "13",
    },
    "redhat9": {"os_family": "RedHat", "distribution": "RedHat", "distribution_major_version": "9"},
    "rocky9": {"os_family": "RedHat", "distribution": "Rocky", "distribution_major_version": "9"},
}


def _platform_files(role) -> list[str]:
    return sorted(p.name for p in (role / "vars").glob("*.yml") if p.name != "main.yml")


def _roles_with_platform_vars():
    roles = sorted(p for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
    return [r for r in roles if _platform_files(r)]


def _expected_files(role, facts) -> list[str]:
    names = [
        f"{facts['os_family']}.yml",
        f"{facts['distribution']}.yml",
        f"{facts['distribution']}_{facts['distribution_major_version']}.yml",
    ]
    unique = list(dict.fromkeys(names))
    return [n for n in unique if (role / "vars" / n).is_file()]


def _plain(value) -> bool:
    """True for values Ansible returns as written (no template to render)."""
    return "{{" not in json.dumps(value) and "{%" not in json.dumps(value)


def test_there_are_roles_with_platform_vars():
    assert len(_roles_with_platform_vars()) >= 8


@pytest.mark.parametrize("role", _roles_with_platform_vars(), ids=lambda r: r.name)
def test_the_role_uses_the_one_loader(role):
    tasks = {p.name: p.read_text() for p in (role / "tasks").glob("*.yml")}
    users = [name for name, text in tasks.items() if f"name: {LOADER}" in text]
    copies = [
        name
        for name, text in tasks.items()
        if "include_vars" in text and "distribution_major_version" in text
    ]
    assert users and not copies, (
        f"{role.name}: load vars/<platform>.yml through `ansible.builtin.import_role: "
        f"name: {LOADER}` (found in {users or 'no task file'}), not a copy of the "
        f"include_vars loop (in {copies})"
    )
    # One separator: <distribution>_<major>.yml; a Debian-13.yml would never load.
    dashed = [n for n in _platform_files(role) if re.fullmatch(r"[A-Za-z]+-[0-9]+\.yml", n)]
    assert not dashed, f"{role.name}: rename {dashed} to <distribution>_<major>.yml"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Path:
    """Run the loader once per platform host (one ansible-playbook run); return its output."""
    tmp = tmp_path_factory.mktemp("platform-vars")
    out = tmp / "out"
    tasks: list[dict] = [
        {
            "name": "Pretend to be the platform",
            "ansible.builtin.set_fact": {
                **{k: f"{{{{ platform.{k} }}}}" for k in FACTS},
                "cacheable": True,
            },
        }
    ]
    for role in _roles_with_platform_vars():
        values = "".join(
            f"{{% set _ = d.update({{'{k}': lookup('ansible.builtin.vars', '{k}')}}) %}}"
            for k in sorted({k for f in PLATFORMS.values() for k in _merged(role, f)})
        )
        tasks += [
            {
                "name": f"Load the platform variables of {role.name}",
                "ansible.builtin.include_role": {"name": LOADER},
                "vars": {"__openclaw_platform_vars_dir": str(role / "vars")},
            },
            {
                "name": f"Write what was loaded for {role.name}",
                "ansible.builtin.copy": {
                    "dest": f"{out}/{{{{ inventory_hostname }}}}/{role.name}.json",
                    "mode": "0644",
                    "content": (
                        "{{ {'files': __openclaw_platform_vars_loaded.results"
                        " | selectattr('ansible_included_var_files', 'defined')"
                        " | map(attribute='ansible_included_var_files') | flatten"
                        " | map('basename') | list,"
                        " 'values': __openclaw_platform_vars_values} | to_json }}"
                    ),
                },
                # Variables of another platform's file stay undefined: default(None).
                "vars": {
                    "__openclaw_platform_vars_values": "{% set d = {} %}"
                    + values.replace("')}) %}", "', default=None)}) %}")
                    + "{{ d }}"
                },
            },
        ]
    for host in PLATFORMS:
        (out / host).mkdir(parents=True)
    inventory = tmp / "hosts.yml"
    inventory.write_text(
        yaml.safe_dump({"all": {"hosts": {h: {"platform": f} for h, f in PLATFORMS.items()}}})
    )
    playbook = tmp / "load.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "all",
                    "gather_facts": False,
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": sys.executable,
                    },
                    "tasks": tasks,
                }
            ]
        )
    )
    # Facts in memory only: the repository's jsonfile cache must not learn fake ones.
    run = run_playbook(
        ["-i", str(inventory), str(playbook)], tmp / "ansible-home", ANSIBLE_CACHE_PLUGIN="memory"
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return out


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_the_loader_loads_each_roles_files_general_to_specific(loaded, platform):
    facts = PLATFORMS[platform]
    loaded_any = False
    for role in _roles_with_platform_vars():
        got = json.loads((loaded / platform / f"{role.name}.json").read_text())
        want_files = _expected_files(role, facts)
        assert got["files"] == want_files, role.name
        merged = _merged(role, facts)
        plain = {k: v for k, v in got["values"].items() if k in merged and _plain(merged[k])}
        assert plain == {k: v for k, v in merged.items() if _plain(v)}, role.name
        # Nothing of a file that does not apply to this platform leaked in.
        assert {k for k, v in got["values"].items() if v is not None} == set(merged), role.name
        loaded_any = loaded_any or bool(want_files)
    assert loaded_any


def _merged(role, facts) -> dict:
    """The variables of the role's platform files, later files winning (what include_vars does)."""
    merged: dict = {}
    for name in _expected_files(role, facts):
        merged.update(yaml.safe_load((role / "vars" / name).read_text()) or {})
    return merged

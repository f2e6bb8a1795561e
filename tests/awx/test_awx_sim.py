"""scripts/awx-sim.py's AWX rules, without a sandbox host (the runs are molecule/awx)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("awx_sim", ROOT / "scripts" / "awx-sim.py")
sim = importlib.util.module_from_spec(_spec)
sys.modules["awx_sim"] = sim  # dataclasses look their module up
_spec.loader.exec_module(sim)
CONTROLLER = yaml.safe_load((ROOT / "awx" / "controller.yml").read_text())
PLAN = yaml.safe_load((ROOT / "awx" / "sim.yml").read_text())
TEMPLATES = {t["name"]: t for t in CONTROLLER["awx_job_templates"]}


@pytest.mark.parametrize(
    ("relative", "skipped"),
    [
        ("", False),
        ("playbooks", False),
        ("roles/openclaw_runtime/tasks", True),
        ("playbooks/group_vars", True),
        ("inventories/sandbox/host_vars", True),
        (".config/molecule", True),
        ("molecule/awx", False),
    ],
)
def test_skip_directory_follows_awx(relative, skipped):
    assert sim.skip_directory(relative) is skipped


def test_could_be_playbook(tmp_path):
    play = tmp_path / "site.yml"
    play.write_text("---\n- name: x\n  hosts: all\n")
    imported = tmp_path / "all.yaml"
    imported.write_text("- ansible.builtin.import_playbook: site.yml\n")
    vaulted = tmp_path / "secret.yml"
    vaulted.write_text("$ANSIBLE_VAULT;1.1;AES256\n3030\n")
    tasks = tmp_path / "tasks.yml"
    tasks.write_text("- name: a task\n  ansible.builtin.debug: {}\n")
    other = tmp_path / "hosts.ini"
    other.write_text("hosts: x\n")
    assert [sim.could_be_playbook(p) for p in (play, imported, vaulted, tasks, other)] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_every_template_playbook_is_one_awx_lists(tmp_path):
    sim.checkout_project(tmp_path)
    listed = sim.project_playbooks(tmp_path)
    for template in CONTROLLER["awx_job_templates"]:
        assert template["playbook"] in listed, template["name"]
    # Nothing under roles/ or a vars directory is offered.
    assert not [p for p in listed if p.startswith("roles/") or "/vars/" in p]


def test_checkout_is_the_commit_without_git_or_untracked_files(tmp_path):
    revision = sim.checkout_project(tmp_path)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    assert revision == head
    assert not (tmp_path / ".git").exists()
    assert not (tmp_path / ".venv").exists()
    assert (tmp_path / "ansible.cfg").is_file()


def test_collection_and_role_paths_as_awx_builds_them(tmp_path):
    (tmp_path / "ansible.cfg").write_text(
        "[defaults]\ncollections_path = ./collections\nroles_path = ./roles:/x\n"
    )
    env = sim.awx_path_env(Path("/runner"), tmp_path)
    colls = env["ANSIBLE_COLLECTIONS_PATH"].split(":")
    assert colls[:2] == ["/runner/requirements_collections", "./collections"]
    assert colls[-1] == "/usr/share/ansible/collections"
    assert env["ANSIBLE_ROLES_PATH"].split(":")[:3] == [
        "/runner/requirements_roles",
        "./roles",
        "/x",
    ]


def test_the_project_ansible_cfg_puts_our_collection_on_the_path():
    env = sim.awx_path_env(Path("/runner"), ROOT)
    assert "./collections" in env["ANSIBLE_COLLECTIONS_PATH"].split(":")


def test_multiselect_and_number_defaults_are_typed_as_awx_passes_them():
    answers = sim.survey_defaults(TEMPLATES["Rotate API keys"])
    assert answers["openclaw_rotate_keys_names"] == ["admin"]
    assert answers["openclaw_rotate_keys_grace_days"] == 7.0
    assert isinstance(answers["openclaw_rotate_keys_expiry_warn_days"], int)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_defaults_and_sample_answers_pass_awx_survey_validation(name):
    assert sim.validate_answers(TEMPLATES[name], sim.survey_defaults(TEMPLATES[name])) == []
    assert sim.validate_answers(TEMPLATES[name], PLAN["awx_sim_templates"][name]["sample"]) == []


def test_survey_validation_rejects_bad_answers():
    t = TEMPLATES["Deploy runtime"]
    good = sim.survey_defaults(t)
    assert sim.validate_answers(t, {**good, "openclaw_runtime_replicas": 0})
    assert sim.validate_answers(t, {**good, "openclaw_runtime_replicas": "2"})
    assert sim.validate_answers(t, {**good, "openclaw_runtime_image_source": "ftp"})
    missing = dict(good)
    del missing["openclaw_runtime_version"]
    assert sim.validate_answers(t, missing)


def test_inventory_keeps_groups_and_vars_and_swaps_the_hosts():
    data = sim.sandbox_inventory(ROOT, ["sim-a", "sim-b"])
    assert data["openclaw"]["hosts"] == ["sim-a", "sim-b"]
    assert data["openclaw"]["vars"]["openclaw_runtime_port_base"] == 8001
    assert set(data["_meta"]["hostvars"]) == {"sim-a", "sim-b"}
    assert data["_meta"]["hostvars"]["sim-a"]["ansible_connection"] == "community.docker.docker"
    assert "openclaw-sandbox" not in json.dumps(data)


FLEET = """\
all:
  hosts:
    fleet-a: &a {ansible_connection: community.docker.docker}
    fleet-lb: &lb {ansible_connection: community.docker.docker}
  vars:
    molecule_file: "{{ lookup('env', 'MOLECULE_FILE') }}"
    cluster_secrets: /tmp/secrets
openclaw:
  hosts: {fleet-a: *a}
  vars: {openclaw_runtime_replicas: 2}
loadbalancers:
  hosts: {fleet-lb: *lb}
"""


def test_an_imported_fleet_inventory_keeps_its_hosts_and_drops_molecule_vars(tmp_path):
    inv = tmp_path / "inventory" / "ansible_inventory.yml"
    inv.parent.mkdir()
    inv.write_text(FLEET)
    (inv.parent / "host_vars").mkdir()
    (inv.parent / "host_vars" / "fleet-a.yml").write_text(
        "openclaw_docker_cgroup_driver: cgroupfs\nmolecule_yml: x\n"
    )
    data = sim.imported_inventory(str(inv), ROOT, {"openclaw_runtime_models_src": "/srv/models"})
    assert data["openclaw"]["hosts"] == ["fleet-a"]
    assert data["loadbalancers"]["hosts"] == ["fleet-lb"]
    assert data["openclaw"]["vars"] == {"openclaw_runtime_replicas": 2}
    assert data["all"]["vars"] == {
        "cluster_secrets": "/tmp/secrets",
        "openclaw_runtime_models_src": "/srv/models",
    }
    assert data["_meta"]["hostvars"]["fleet-a"] == {
        "ansible_connection": "community.docker.docker",
        "openclaw_docker_cgroup_driver": "cgroupfs",
    }
    assert "molecule_" not in json.dumps(data)


def test_an_inventory_with_no_hosts_is_refused(tmp_path):
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  vars: {a: 1}\n")
    with pytest.raises(SystemExit, match="has no hosts"):
        sim.imported_inventory(str(inv), ROOT)


def test_the_hosts_a_fleet_job_must_reach_are_its_playbooks(tmp_path):
    """ansible-playbook --list-hosts on the job's inventory script and extra vars."""
    inv = tmp_path / "hosts.yml"
    inv.write_text(FLEET)
    pdd = tmp_path / "pdd"
    (pdd / "env").mkdir(parents=True)
    (pdd / "project" / "playbooks").mkdir(parents=True)
    (pdd / "env" / "extravars").write_text(json.dumps({"target": "loadbalancers"}))
    (pdd / "project" / "playbooks" / "x.yml").write_text(
        "- name: one\n  hosts: openclaw\n  tasks: []\n"
        "- name: two\n  hosts: '{{ target }}'\n  tasks: []\n"
    )
    sim.write_inventory_script(pdd, sim.imported_inventory(str(inv), ROOT))
    assert sim.playbook_hosts(pdd, "playbooks/x.yml", {}) == {"fleet-a", "fleet-lb"}
    (pdd / "env" / "extravars").write_text(json.dumps({"target": "openclaw"}))
    assert sim.playbook_hosts(pdd, "playbooks/x.yml", {}) == {"fleet-a"}


def test_credentials_inject_files_env_and_extra_vars(tmp_path):
    (tmp_path / "env").mkdir()
    s = sim.Sim.__new__(sim.Sim)
    s.cred_types = {c["name"]: c for c in sim._render(CONTROLLER, {})["awx_credential_types"]}
    s.plan = PLAN
    template = {"credentials": ["OpenClaw Vault password", "OpenClaw robot secrets"]}
    env, extra = s._credentials(template, tmp_path)
    vault_file = Path(env["ANSIBLE_VAULT_PASSWORD_FILE"])
    assert vault_file.parent == tmp_path / "env"
    assert (
        vault_file.read_text()
        == PLAN["awx_sim_credentials"]["OpenClaw Vault password"]["vault_password"]
    )
    assert oct(os.stat(vault_file).st_mode & 0o777) == "0o600"
    robot = PLAN["awx_sim_credentials"]["OpenClaw robot secrets"]
    assert extra["openclaw_runtime_registry_password"] == robot["registry_password"]
    assert extra["openclaw_rotate_keys_webhook_token"] == robot["webhook_token"]


class _FakeSim:
    """Stands in for Sim.run: a node fails when the plan says so."""

    def __init__(self, failing: set[str]):
        self.failing = failing
        self.stack = True
        self.templates = TEMPLATES
        self.plan = PLAN

    def run(self, name, answers, label, job_type, node_extra=None, expect=None):
        node = label.split(":", 1)[1]
        job = sim.Job(template=name, answers=label, job_type=job_type)
        job.status = (
            "failed"
            if node in self.failing or (expect or {}).get("status") == "failed"
            else "successful"
        )
        return job


def _workflow(name):
    return next(w for w in CONTROLLER["awx_workflows"] if w["name"] == name)


def test_workflow_follows_success_edges():
    path, status, _ = sim.run_workflow(_FakeSim(set()), _workflow("Deploy the platform"), None, {})
    assert path == ["preflight", "harden", "deploy", "loadgate"]
    assert status == "successful"


def test_workflow_takes_the_rollback_branch_on_a_failure():
    inject = PLAN["awx_sim_workflows"]["Deploy the platform"]["inject"]
    path, status, _ = sim.run_workflow(
        _FakeSim(set()), _workflow("Deploy the platform"), inject, {}
    )
    assert path == ["preflight", "harden", "deploy", "rollback"]
    assert status == "successful"  # the failure was handled by its failure edge
    path, _, _ = sim.run_workflow(
        _FakeSim({"loadgate"}), _workflow("Deploy the platform"), None, {}
    )
    assert path == ["preflight", "harden", "deploy", "loadgate", "rollback"]


def test_an_unhandled_failure_fails_the_workflow():
    path, status, _ = sim.run_workflow(
        _FakeSim({"harden"}), _workflow("Deploy the platform"), None, {}
    )
    assert path == ["preflight", "harden"]
    assert status == "failed"

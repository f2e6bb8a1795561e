"""scripts/awx-survey-check.py: the real awx/controller.yml passes; each bad survey fails."""

from __future__ import annotations

import copy
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "awx-survey-check.py"
_spec = importlib.util.spec_from_file_location("awx_survey_check", SCRIPT)
checker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checker)
CONTROLLER = yaml.safe_load((ROOT / "awx" / "controller.yml").read_text())


def _template(data: dict, name: str) -> dict:
    return next(t for t in data["awx_job_templates"] if t["name"] == name)


def _question(data: dict, template: str, variable: str) -> dict:
    return next(q for q in _template(data, template)["survey"] if q["variable"] == variable)


def test_the_real_controller_data_passes():
    assert checker.check(CONTROLLER) == []
    run = subprocess.run([sys.executable, str(SCRIPT)], check=False, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def _set(template, variable, **changes):
    def mutate(data):
        _question(data, template, variable).update(changes)

    return mutate


def _drop(key, template="Preflight", variable="openclaw_preflight_min_cpu_cores"):
    def mutate(data):
        del _question(data, template, variable)[key]

    return mutate


def _append(template, question):
    def mutate(data):
        _template(data, template)["survey"].append(question)

    return mutate


def _playbook(data):
    _template(data, "Scale")["playbook"] = "playbooks/scale_out.yml"


def _workflow_node(data):
    data["awx_workflows"][0]["nodes"][0]["success"] = ["nowhere"]


CASES = {
    "unknown type": (_set("Preflight", "openclaw_preflight_min_cpu_cores", type="number"),
                     "type 'number' is not one of"),
    "default above max": (_set("Preflight", "openclaw_preflight_min_cpu_cores", default=1000),
                          "default 1000 outside min 1 / max 512"),
    "default below min": (
        _set("Load gate", "openclaw_runtime_loadgate_max_error_pct", default=-1.0),
        "default -1.0 outside min 0 / max 100"),
    "integer default not an integer": (
        _set("Preflight", "openclaw_preflight_min_cpu_cores", default="two"), "is not an integer"),
    "min above max": (_set("Scale", "openclaw_runtime_replicas", min=40), "min 40 > max 32"),
    "text default too long": (_set("Kubernetes", "openclaw_kubernetes_namespace", default="x" * 64),
                              "length outside min 1 / max 63"),
    "default not a choice": (_set("Deploy runtime", "openclaw_runtime_log_level", default="trace"),
                             "default ['trace'] not among the choices"),
    "multiselect default not a choice": (
        _set("Rotate API keys", "openclaw_rotate_keys_names", default="admin\nroot"),
        "default ['root'] not among the choices"),
    "choice the argument spec refuses": (
        _set("Rotate API keys", "openclaw_rotate_keys_hook", choices=["file", "email"]),
        "choices ['email'] are not allowed by the argument spec"),
    "no choices": (_set("Deploy runtime", "openclaw_runtime_log_level", choices=[]),
                   "needs a non-empty list of string choices"),
    "unknown variable": (_append("Preflight", {"variable": "openclaw_preflight_colour",
                                               "question_name": "Colour", "type": "text",
                                               "required": False}),
                         "openclaw_preflight_colour is not a variable of playbooks/preflight.yml"),
    "variable of another playbook": (
        _append("Preflight", {"variable": "openclaw_runtime_replicas", "question_name": "n",
                              "type": "integer", "required": True, "default": 2}),
        "openclaw_runtime_replicas is not a variable of playbooks/preflight.yml"),
    "asked twice": (_append("Scale", {"variable": "openclaw_runtime_replicas", "question_name": "n",
                                      "type": "integer", "required": True, "default": 2}),
                    "asked twice"),
    "secret as text": (_set("Deploy runtime", "openclaw_runtime_smoke_api_key", type="text"),
                       "is a secret: make it a password field"),
    "bool as text": (_set("Harden", "openclaw_fail2ban_enabled", type="text"),
                     "is a bool: ask it as multiplechoice true/false"),
    "list as text": (_set("Rotate API keys", "openclaw_rotate_keys_names", type="text"),
                     "is a list: only multiselect"),
    "int as float": (_set("Scale", "openclaw_runtime_replicas", type="float"),
                     "is an int: use type integer"),
    "required not a bool": (_set("Scale", "openclaw_runtime_replicas", required="yes"),
                            "required must be true or false"),
    "no question name": (_drop("question_name"), "no question_name"),
    "playbook missing": (_playbook, "playbook 'playbooks/scale_out.yml' does not exist"),
    "workflow edge to nowhere": (_workflow_node, "success edge to unknown node 'nowhere'"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_survey_is_rejected_with_its_reason(case):
    mutate, message = CASES[case]
    data = copy.deepcopy(CONTROLLER)
    mutate(data)
    problems = checker.check(data)
    assert any(message in p for p in problems), (message, problems)
    assert len(problems) <= 2, problems


def test_the_script_exits_1_naming_the_problem(tmp_path):
    data = copy.deepcopy(CONTROLLER)
    _question(data, "Scale", "openclaw_runtime_replicas")["default"] = 0
    bad = tmp_path / "controller.yml"
    bad.write_text(yaml.safe_dump(data))
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--controller", str(bad)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert "'Scale' question 1 (openclaw_runtime_replicas): default 0 outside min 1" in run.stdout

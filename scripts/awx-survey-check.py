#!/usr/bin/env python3
"""Check every survey, template, workflow and schedule of awx/controller.yml (make lint).

AWX's survey-spec rules (awx/main/models/mixins.py SurveyJobTemplateMixin and
the API's survey_spec validation): each question has a ``type`` among text,
textarea, password, integer, float, multiplechoice, multiselect, a
``variable`` and a ``question_name``; variables are unique; integer and
float defaults are numbers inside min/max; text lengths inside min/max;
choice defaults among the choices (multiselect: each line). Ours on top: the
variable exists in the target playbook's roles' meta/argument_specs.yml or in
the playbook's vars, the playbook exists, workflow nodes and schedules name
templates that exist, and secrets (a variable of a ``no_log`` option or named
like a password, token or key) are password fields.

    awx-survey-check.py [--controller awx/controller.yml]   exit 1 naming each problem
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
SECRET = re.compile(r"(password|token|secret|api_key|store_key)$")


class _Loader(yaml.SafeLoader):
    """Safe YAML that reads !vault and other Ansible tags as plain strings."""


_Loader.add_multi_constructor("!", lambda loader, _suffix, node: loader.construct_scalar(node))


def _load(path: Path):
    return yaml.load(path.read_text(), Loader=_Loader)


def _role_names(node) -> set[str]:
    """Roles a play or task list names (roles:, include_role, import_role)."""
    found = set()
    if isinstance(node, dict):
        for key in ("ansible.builtin.include_role", "ansible.builtin.import_role",
                    "include_role", "import_role"):  # fmt: skip
            if isinstance(node.get(key), dict) and "name" in node[key]:
                found.add(str(node[key]["name"]))
        for role in node.get("roles") or []:
            found.add(str(role.get("role") or role.get("name")) if isinstance(role, dict) else role)
        for value in node.values():
            found |= _role_names(value)
    elif isinstance(node, list):
        for item in node:
            found |= _role_names(item)
    return found


def playbook_variables(playbook: Path, root: Path = ROOT) -> dict[str, dict]:
    """{variable: argument spec option} a playbook accepts.

    From the argument specs of every role it names (and the roles those include),
    its plays' vars and vars_files (an argument-spec dict there gives the type),
    and playbooks it imports.
    """
    known: dict[str, dict] = {}
    plays = _load(playbook) or []
    roles = _role_names(plays)
    seen: set[str] = set()
    while roles - seen:
        role = (roles - seen).pop()
        seen.add(role)
        role_dir = root / "roles" / role.split(".")[-1]
        spec = role_dir / "meta" / "argument_specs.yml"
        if spec.exists():
            for entry in (_load(spec).get("argument_specs") or {}).values():
                known.update(entry.get("options") or {})
        for tasks in (role_dir / "tasks").glob("*.yml"):
            roles |= _role_names(_load(tasks))
    for play in plays:
        imported = play.get("ansible.builtin.import_playbook") or play.get("import_playbook")
        if imported:
            known.update(playbook_variables(playbook.parent / imported, root))
        for name in play.get("vars") or {}:
            known.setdefault(name, {})
        for vars_file in play.get("vars_files") or []:
            data = _load(playbook.parent / vars_file) or {}
            for name, value in data.items():
                # A spec kept as data (playbooks/vars/*_spec.yml): its options are variables.
                if name.endswith("_spec") and isinstance(value, dict):
                    known.update(value)
                else:
                    known.setdefault(name, {})
    return known


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_question(q: dict, spec: dict, where: str) -> list[str]:
    """Problems of one survey question against AWX's rules and the variable's spec."""
    problems = []
    qtype, var = q.get("type"), q.get("variable")
    if qtype not in TYPES:
        problems.append(f"{where}: type {qtype!r} is not one of {sorted(TYPES)}")
        return problems
    for key in ("variable", "question_name"):
        if not q.get(key):
            problems.append(f"{where}: no {key}")
    if not isinstance(q.get("required"), bool):
        problems.append(f"{where}: required must be true or false")
    default, lo, hi = q.get("default"), q.get("min"), q.get("max")
    if (lo is not None and not _number(lo)) or (hi is not None and not _number(hi)):
        problems.append(f"{where}: min/max must be numbers")
        lo = hi = None
    if lo is not None and hi is not None and lo > hi:
        problems.append(f"{where}: min {lo} > max {hi}")
    has_default = default not in (None, "")
    if qtype in ("integer", "float") and has_default:
        if not _number(default) or (qtype == "integer" and not isinstance(default, int)):
            problems.append(f"{where}: default {default!r} is not an {qtype}")
        elif (lo is not None and default < lo) or (hi is not None and default > hi):
            problems.append(f"{where}: default {default} outside min {lo} / max {hi}")
    if qtype in ("text", "textarea", "password") and has_default:
        if not isinstance(default, str):
            problems.append(f"{where}: default {default!r} of a {qtype} field is not a string")
        elif (lo is not None and len(default) < lo) or (hi is not None and len(default) > hi):
            problems.append(f"{where}: default {default!r} length outside min {lo} / max {hi}")
    if qtype in ("multiplechoice", "multiselect"):
        choices = q.get("choices")
        if isinstance(choices, str):
            choices = choices.split("\n")
        if not choices or not all(isinstance(c, str) and c for c in choices):
            problems.append(f"{where}: {qtype} needs a non-empty list of string choices")
            choices = []
        if has_default:
            picked = str(default).split("\n") if qtype == "multiselect" else [default]
            bad = [d for d in picked if d not in choices]
            if bad:
                problems.append(f"{where}: default {bad} not among the choices {choices}")
        allowed = spec.get("choices")
        if allowed and qtype == "multiplechoice":
            extra = [c for c in choices if c not in [str(a) for a in allowed]]
            if extra:
                problems.append(f"{where}: choices {extra} are not allowed by the argument spec")
    stype = spec.get("type")
    if stype == "bool" and qtype != "multiplechoice":
        problems.append(f"{where}: {var} is a bool: ask it as multiplechoice true/false")
    if stype == "bool" and qtype == "multiplechoice":
        choices = q.get("choices") or []
        if sorted(str(c).lower() for c in choices) != ["false", "true"]:
            problems.append(f"{where}: {var} is a bool: its choices must be true and false")
    if stype == "int" and qtype != "integer":
        problems.append(f"{where}: {var} is an int: use type integer")
    if stype == "float" and qtype not in ("float", "integer"):
        problems.append(f"{where}: {var} is a float: use type float")
    if stype == "list" and qtype != "multiselect":
        problems.append(f"{where}: {var} is a list: only multiselect answers with a list")
    secret = bool(spec.get("no_log")) or bool(var and SECRET.search(var))
    if secret and qtype != "password":
        problems.append(f"{where}: {var} is a secret: make it a password field")
    return problems


def check(controller: dict, root: Path = ROOT) -> list[str]:
    """Every problem in the controller data."""
    problems = []
    templates = {t["name"]: t for t in controller.get("awx_job_templates") or []}
    for template in templates.values():
        name = template["name"]
        playbook = root / template.get("playbook", "")
        if not template.get("playbook") or not playbook.is_file():
            problems.append(
                f"job template {name!r}: playbook {template.get('playbook')!r} does not exist "
                "in the project (AWX lists only the project's playbook files)"
            )
            continue
        known = playbook_variables(playbook, root)
        survey = template.get("survey") or []
        if not survey:
            problems.append(f"job template {name!r}: no survey")
        seen = set()
        for i, q in enumerate(survey):
            where = f"job template {name!r} question {i + 1} ({q.get('variable')})"
            var = q.get("variable")
            if var in seen:
                problems.append(f"{where}: variable {var} asked twice")
            seen.add(var)
            if var and var not in known:
                problems.append(
                    f"{where}: {var} is not a variable of {template['playbook']} "
                    "(not in its roles' argument specs nor in its vars)"
                )
            problems += check_question(q, known.get(var) or {}, where)
    for pending in controller.get("awx_pending_templates") or []:
        if (root / pending["playbook"]).is_file():
            problems.append(
                f"pending template {pending['name']!r}: {pending['playbook']} exists now: "
                "move it to awx_job_templates with a survey"
            )
    for workflow in controller.get("awx_workflows") or []:
        ids = {n["identifier"] for n in workflow["nodes"]}
        for node in workflow["nodes"]:
            if node["template"] not in templates:
                problems.append(
                    f"workflow {workflow['name']!r} node {node['identifier']}: "
                    f"no job template {node['template']!r}"
                )
            for edge in ("success", "failure"):
                for target in node.get(edge) or []:
                    if target not in ids:
                        problems.append(
                            f"workflow {workflow['name']!r} node {node['identifier']}: "
                            f"{edge} edge to unknown node {target!r}"
                        )
    for schedule in controller.get("awx_schedules") or []:
        if schedule["template"] not in templates:
            problems.append(
                f"schedule {schedule['name']!r}: no job template {schedule['template']!r}"
            )
        if not re.match(r"^DTSTART:\d{8}T\d{6}Z RRULE:FREQ=", schedule.get("rrule", "")):
            problems.append(f"schedule {schedule['name']!r}: rrule must be 'DTSTART:... RRULE:...'")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controller", default=str(ROOT / "awx" / "controller.yml"))
    args = parser.parse_args()
    controller = _load(Path(args.controller))
    problems = check(controller)
    for problem in problems:
        print(f"{args.controller}: {problem}")
    if not problems:
        count = sum(len(t.get("survey") or []) for t in controller["awx_job_templates"])
        print(
            f"{len(controller['awx_job_templates'])} job templates, {count} survey questions, "
            f"{len(controller.get('awx_workflows') or [])} workflows: OK"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Run every AWX job template and workflow of awx/controller.yml as AWX runs them.

For each job template (plan: awx/sim.yml) this builds an AWX-like
``private_data_dir`` and runs it through ansible-runner, as AWX's RunJob does:

- ``project/``: the project as AWX checks it out (the files git tracks, no
  .git, no untracked files); the template's playbook must be one AWX lists
  (its could_be_playbook/skip_directory rules); collections/requirements.yml
  and roles/requirements.yml would be installed into requirements_collections/
  and requirements_roles/ (ansible-galaxy, as AWX's project sync does);
- ``inventory/hosts``: the inventory AWX imports from the project's
  inventories/sandbox/hosts.yml (``ansible-inventory --list --export``: groups
  and group vars), its hosts replaced by the sandbox hosts (--host, Docker
  containers);
- ``env/extravars``: AWX's awx_* meta variables, the survey answers (the
  defaults, or the plan's sample answers), a workflow node's extra_data and
  the credentials' extra_vars injectors;
- ``env/envvars``: AWX's job environment (ANSIBLE_COLLECTIONS_PATH and
  ANSIBLE_ROLES_PATH built from the project's ansible.cfg as AWX builds them,
  JOB_ID, ...) and the credentials' env injectors; file injectors are written
  to 0600 files under env/ whose paths the env vars name;
- ``env/cmdline``: --check for a check job, -t for the template's job_tags.

It asserts status and rc, per-host stats (no unreachable host, failures only
where a failure is expected), ansible-runner's artifacts (rc, status, stdout,
job events) and the files the plan says the job writes, and that no
credential secret shows in the job output. Workflows run node by node along
their success/failure edges; with a failure injected into one node the run
must take the failure edge (rollback). Prints a table: template, status,
changed, duration. Exit 1 when any assertion fails.
"""

from __future__ import annotations

import argparse
import configparser
import glob
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import ansible_runner
import jinja2
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONTROLLER = ROOT / "awx" / "controller.yml"
PLAN = ROOT / "awx" / "sim.yml"
SANDBOX_INVENTORY = "inventories/sandbox/hosts.yml"
# Variables of this shell a job must not inherit: a job's environment is AWX's
# (nothing from a Molecule run: its artifact directory, collection paths).
NOT_INHERITED = ("ANSIBLE_", "MOLECULE_", "OPENCLAW_")

# AWX (awx/main/utils/ansible.py): a project file is offered as a playbook when
# it is .yml/.yaml, not under roles/, tasks/, group_vars/, host_vars/ or a dot
# directory, and has a line starting a play (hosts / include / import_playbook)
# or is vault encrypted.
_PLAYBOOK_LINE = re.compile(
    r"^\s*?-?\s*?(?:hosts|(?:ansible\.builtin\.)?include|(?:ansible\.builtin\.)?import_playbook):\s*?.*?$"
)


def skip_directory(relative: str) -> bool:
    """AWX's skip_directory: directories whose files are never playbooks."""
    parts = [] if relative in ("", ".") else relative.split(os.sep)
    if {"roles", "tasks", "group_vars", "host_vars"} & set(parts):
        return True
    return any(p.startswith(".") for p in parts)


def could_be_playbook(path: Path) -> bool:
    """AWX's could_be_playbook on one file."""
    if path.suffix not in (".yml", ".yaml"):
        return False
    try:
        with path.open(encoding="utf-8", errors="ignore") as fh:
            for n, line in enumerate(fh):
                if _PLAYBOOK_LINE.match(line):
                    return True
                if n == 0 and line.startswith("$ANSIBLE_VAULT;"):
                    return True
    except OSError:
        return False
    return False


def project_playbooks(project: Path) -> list[str]:
    """The playbook list AWX shows for a project checked out at ``project``."""
    found = []
    for dirpath, dirnames, filenames in os.walk(project, followlinks=False):
        rel = os.path.relpath(dirpath, project)
        if skip_directory(rel):
            dirnames[:] = []
            continue
        for name in filenames:
            if could_be_playbook(Path(dirpath) / name):
                found.append(os.path.normpath(os.path.join(rel, name)))
    return sorted(found, key=str.lower)


def checkout_project(dest: Path, worktree: bool = False) -> str:
    """Copy the project as AWX checks it out: a commit's files, no .git.

    AWX clones the project's branch and copies the commit into the job, so by
    default this is HEAD (``git archive``). With ``worktree`` the files git
    tracks are copied as they are in the working tree instead (to try
    uncommitted edits); untracked files are never in, as a clone has none.
    Returns the revision (HEAD)."""
    dest.mkdir(parents=True, exist_ok=True)
    if not worktree:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"],
                                 check=True, capture_output=True)  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    files = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], check=True, capture_output=True, text=True
    ).stdout.split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), out)
        else:
            shutil.copy2(src, out)
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def _render(value, context: dict):
    """Render the Jinja in controller.yml's strings as awx/configure.yml does."""
    if isinstance(value, dict):
        return {k: _render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, context) for v in value]
    if isinstance(value, str) and "{{" in value:
        return jinja2.Environment(undefined=jinja2.Undefined).from_string(value).render(context)
    return value


def _render_injector(text: str, inputs: dict, files: dict) -> str:
    """Render an AWX credential injector template (fields, tower.filename.X)."""
    ns = dict(inputs)
    ns["tower"] = ns["awx"] = {"filename": files}
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(text).render(ns)


def ansible_cfg_paths(project: Path) -> dict[str, str]:
    """collections_path / roles_path of the project's ansible.cfg (AWX reads them)."""
    cfg = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
    cfg.read(project / "ansible.cfg")
    found = {}
    if cfg.has_section("defaults"):
        for key in ("collections_path", "collections_paths", "roles_path"):
            if cfg.has_option("defaults", key):
                found.setdefault(
                    key.rstrip("s") if key.startswith("collections") else key,
                    cfg.get("defaults", key),
                )
    return found


def awx_path_env(pdd: Path, project: Path) -> dict[str, str]:
    """ANSIBLE_COLLECTIONS_PATH and ANSIBLE_ROLES_PATH as AWX's RunJob.build_env makes them.

    AWX puts the job's requirements_* folder first, then the project
    ansible.cfg's setting, then Ansible's defaults."""
    cfg = ansible_cfg_paths(project)
    home = os.environ.get("HOME", "~")
    env = {}
    for key, setting, folder, default in (
        ("ANSIBLE_COLLECTIONS_PATH", "collections_path", "requirements_collections",
         f"{home}/.ansible/collections:/usr/share/ansible/collections"),
        ("ANSIBLE_ROLES_PATH", "roles_path", "requirements_roles",
         f"{home}/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles"),
    ):  # fmt: skip
        paths = default.split(":")
        if setting in cfg:
            paths = [p for p in cfg[setting].split(":") if p not in paths] + paths
        env[key] = ":".join([str(pdd / folder)] + paths)
    return env


def install_requirements(pdd: Path, project: Path) -> list[str]:
    """AWX's project sync: install collections/requirements.yml and roles/requirements.yml."""
    problems = []
    for kind, req, folder in (
        ("collection", project / "collections" / "requirements.yml", "requirements_collections"),
        ("role", project / "roles" / "requirements.yml", "requirements_roles"),
    ):
        if not req.exists():
            continue
        cmd = ["ansible-galaxy", kind, "install", "-r", str(req), "-p", str(pdd / folder)]
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=project, check=False)
        if res.returncode:
            problems.append(
                f"{req.relative_to(project)}: AWX installs it in the project sync and it failed "
                f"({' '.join(cmd)}): {res.stderr.strip()[-400:]}"
            )
    return problems


def sandbox_inventory(project: Path, hosts: list[str], source: str = SANDBOX_INVENTORY) -> dict:
    """The inventory AWX imports from ``source``, its hosts replaced by ``hosts``.

    AWX runs ``ansible-inventory --list --export`` on an inventory sourced from
    a project and keeps groups, group vars and host vars; the sandbox hosts
    take the place of every host of the source, in the same groups."""
    res = subprocess.run(
        ["ansible-inventory", "-i", str(project / source), "--list", "--export"],
        capture_output=True, text=True, cwd=project, check=False,
    )  # fmt: skip
    if res.returncode:
        raise SystemExit(f"ERROR: ansible-inventory on {source} failed: {res.stderr.strip()}")
    data = json.loads(res.stdout)
    source_hosts = set(data.get("_meta", {}).get("hostvars", {}))
    for group, body in list(data.items()):
        if group == "_meta" or not isinstance(body, dict):
            continue
        if "hosts" in body:
            had = [h for h in body["hosts"] if h in source_hosts]
            body["hosts"] = [h for h in body["hosts"] if h not in source_hosts] + (
                hosts if had else []
            )
    data["_meta"] = {
        "hostvars": {
            h: {
                "ansible_connection": "community.docker.docker",
                "ansible_host": h,
                "ansible_python_interpreter": "/usr/bin/python3",
            }
            for h in hosts
        }
    }
    return data


def imported_inventory(path: str, project: Path, variables: dict | None = None) -> dict:
    """The inventory AWX imports from an inventory file, hosts and all (--inventory).

    What ``ansible-inventory --list --export`` gives AWX's inventory update:
    groups, group vars and host vars as written (templates unrendered, so
    lookups run in the job, on the execution node), hosts kept as they are.
    Molecule's own ``molecule_*`` variables are left out: they read Molecule's
    environment, which no job has. ``variables`` are the AWX inventory's own
    variables (set on the inventory in the controller), added to ``all``."""
    res = subprocess.run(
        ["ansible-inventory", "-i", path, "--list", "--export"],
        capture_output=True, text=True, cwd=project, check=False,
    )  # fmt: skip
    if res.returncode:
        raise SystemExit(f"ERROR: ansible-inventory on {path} failed: {res.stderr.strip()}")
    data = json.loads(res.stdout)

    def clean(values: dict) -> dict:
        return {k: v for k, v in values.items() if not k.startswith("molecule_")}

    for group, body in data.items():
        if group != "_meta" and isinstance(body, dict) and "vars" in body:
            body["vars"] = clean(body["vars"])
    hostvars = data.setdefault("_meta", {}).setdefault("hostvars", {})
    for host in list(hostvars):
        hostvars[host] = clean(hostvars[host])
    if variables:
        data.setdefault("all", {}).setdefault("vars", {}).update(variables)
    if not hostvars:
        raise SystemExit(f"ERROR: the inventory {path} has no hosts")
    return data


def playbook_hosts(pdd: Path, playbook: str, env: dict) -> set[str]:
    """The hosts ``ansible-playbook --list-hosts`` names for the job's playbook."""
    res = subprocess.run(
        ["ansible-playbook", "-i", str(pdd / "inventory" / "hosts"), "--list-hosts",
         "-e", f"@{pdd / 'env' / 'extravars'}", playbook],
        capture_output=True, text=True, cwd=pdd / "project", check=False,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}, **env},
    )  # fmt: skip
    if res.returncode:
        raise SystemExit(f"ERROR: --list-hosts of {playbook} failed: {res.stderr.strip()[-600:]}")
    hosts, listing = set(), False
    for line in res.stdout.splitlines():
        if re.match(r"^\s+hosts \(\d+\):", line):
            listing = True
        elif listing and line.strip() and not line.strip().startswith("play #"):
            hosts.add(line.strip())
        else:
            listing = False
    return hosts


def write_inventory_script(pdd: Path, data: dict) -> None:
    """inventory/hosts as AWX writes it: an executable that prints the JSON."""
    inv = pdd / "inventory"
    inv.mkdir(parents=True, exist_ok=True)
    script = inv / "hosts"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"DATA = json.loads({json.dumps(json.dumps(data))})\n"
        "if '--host' in sys.argv:\n"
        "    print(json.dumps(DATA['_meta']['hostvars'].get(sys.argv[-1], {})))\n"
        "else:\n"
        "    print(json.dumps(DATA))\n"
    )
    script.chmod(0o700)


def survey_defaults(template: dict) -> dict:
    """The extra vars AWX passes for a survey launched with its defaults.

    A multiselect default is AWX's newline-separated string: the job gets the
    list of its lines. An empty non-required answer is passed as ''."""
    out = {}
    for q in template.get("survey", []):
        if "default" not in q:
            continue
        value = q["default"]
        if q["type"] == "multiselect":
            value = (
                [v for v in str(value).split("\n") if v] if isinstance(value, str) else list(value)
            )
        elif q["type"] == "integer" and value != "":
            value = int(value)
        elif q["type"] == "float" and value != "":
            value = float(value)
        out[q["variable"]] = value
    return out


def validate_answers(template: dict, answers: dict) -> list[str]:
    """AWX's launch-time survey validation of ``answers`` (types, min/max, choices)."""
    problems = []
    for q in template.get("survey", []):
        var = q["variable"]
        if var not in answers:
            if q.get("required"):
                problems.append(f"{var}: required and not answered")
            continue
        v = answers[var]
        t = q["type"]
        if not q.get("required") and v in ("", None, []):
            continue
        if t in ("text", "textarea", "password"):
            if not isinstance(v, str):
                problems.append(f"{var}: {t} answer {v!r} is not a string")
            elif not q.get("min", 0) <= len(v) <= q.get("max", 1 << 30):
                problems.append(f"{var}: length {len(v)} outside {q.get('min')}..{q.get('max')}")
        elif t in ("integer", "float"):
            ok = isinstance(v, int) if t == "integer" else isinstance(v, (int, float))
            if not ok or isinstance(v, bool):
                problems.append(f"{var}: {t} answer {v!r} has the wrong type")
            elif not q.get("min", float("-inf")) <= v <= q.get("max", float("inf")):
                problems.append(f"{var}: {v} outside {q.get('min')}..{q.get('max')}")
        elif t == "multiplechoice":
            if v not in q["choices"]:
                problems.append(f"{var}: {v!r} not among {q['choices']}")
        elif t == "multiselect":
            if not isinstance(v, list) or any(x not in q["choices"] for x in v):
                problems.append(f"{var}: {v!r} is not a list of {q['choices']}")
    return problems


@dataclass
class Job:
    """One job: a template launched with answers, as AWX would."""

    template: str
    answers: str  # "defaults" / "sample" / a workflow node
    job_type: str
    status: str = ""
    rc: int | None = None
    changed: int = 0
    duration: float = 0.0
    stats: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    pdd: Path | None = None
    reused: str = ""  # the job whose result a workflow node reused
    targets: set[str] | None = None  # the hosts its playbook names (a fleet inventory)


class Sim:
    """Builds private data dirs and runs jobs through ansible-runner."""

    def __init__(self, hosts: list[str], workdir: Path, controller: dict, plan: dict, timeout: int,
                 worktree: bool = False, stack: bool = False,
                 inventory: str | None = None, inventory_vars: dict | None = None):  # fmt: skip
        """``hosts`` replace the sandbox inventory's hosts; or ``inventory`` (a
        file) is imported as it is, hosts and all, with ``inventory_vars``."""
        self.hosts = hosts
        self.fleet = inventory is not None
        self.stack = stack
        self.results: dict[str, Job] = {}
        self.workdir = workdir
        self.controller = controller
        self.plan = plan
        self.timeout = timeout
        self.templates = {t["name"]: t for t in controller["awx_job_templates"]}
        self.cred_types = {c["name"]: c for c in controller["awx_credential_types"]}
        self.job_id = 0
        self.pristine = workdir / "checkout"
        self.revision = checkout_project(self.pristine, worktree)
        self.playbooks = project_playbooks(self.pristine)
        if inventory is not None:
            self.inventory = imported_inventory(inventory, self.pristine, inventory_vars)
            self.hosts = sorted(self.inventory["_meta"]["hostvars"])
        else:
            self.inventory = sandbox_inventory(self.pristine, hosts)
        self.secrets = [
            str(v)
            for name, inputs in plan.get("awx_sim_credentials", {}).items()
            for fid, v in inputs.items()
            if any(
                f["id"] == fid and f.get("secret")
                for f in self.cred_types[name]["inputs"]["fields"]
            )
        ]

    def _credentials(self, template: dict, pdd: Path) -> tuple[dict, dict]:
        """env vars and extra vars the template's credentials inject (files written under env/)."""
        env, extra = {}, {}
        for name in template.get("credentials", []):
            ctype = self.cred_types[name]
            inputs = self.plan["awx_sim_credentials"][name]
            inj = ctype.get("injectors", {})
            files = {}
            for key, text in inj.get("file", {}).items():
                fd, path = tempfile.mkstemp(prefix="tmp", dir=pdd / "env")
                with os.fdopen(fd, "w") as fh:
                    fh.write(_render_injector(text, inputs, {}))
                os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
                files[key.split(".", 1)[1] if "." in key else "default"] = path
            for key, text in inj.get("env", {}).items():
                env[key] = _render_injector(text, inputs, files)
            for key, text in inj.get("extra_vars", {}).items():
                extra[key] = _render_injector(text, inputs, files)
        return env, extra

    def run(self, name: str, answers: dict, label: str, job_type: str,
            node_extra: dict | None = None, expect: dict | None = None,
            artifacts: list[str] | None = None) -> Job:  # fmt: skip
        """Launch ``name`` with ``answers`` (+ a workflow node's extra_data) and check it."""
        template = self.templates[name]
        # A workflow node whose job equals one this run already made (same
        # template, job type, variables, expectation) and that cannot change
        # the hosts (a check job, or a template the plan marks read_only) is
        # not run again: its result is reused and marked so in the table.
        inputs = {**(template.get("extra_vars") or {}), **answers, **(node_extra or {})}
        key = json.dumps([name, job_type, inputs, expect or {}], sort_keys=True, default=str)
        read_only = job_type == "check" or self.plan["awx_sim_templates"].get(name, {}).get(
            "read_only"
        )
        if node_extra is not None and read_only and key in self.results:
            done = self.results[key]
            return Job(
                template=name, answers=label, job_type=job_type, status=done.status, rc=done.rc,
                changed=done.changed, stats=done.stats, problems=list(done.problems),
                pdd=done.pdd, reused=f"{done.template} [{done.answers}]",
            )  # fmt: skip
        self.job_id += 1
        job = Job(template=name, answers=label, job_type=job_type)
        job.problems += [f"survey: {p}" for p in validate_answers(template, answers)]
        pdd = self.workdir / f"job-{self.job_id:02d}"
        job.pdd = pdd
        project = pdd / "project"
        shutil.copytree(self.pristine, project, symlinks=True)
        (pdd / "env").mkdir(parents=True)
        (pdd / "cp").mkdir(mode=0o700)
        if template["playbook"] not in project_playbooks(project):
            job.problems.append(
                f"AWX does not list {template['playbook']} as a playbook of the project"
            )
        job.problems += install_requirements(pdd, project)
        write_inventory_script(pdd, self.inventory)

        cred_env, cred_extra = self._credentials(template, pdd)
        extravars = {
            "awx_job_id": self.job_id, "tower_job_id": self.job_id,
            "awx_job_launch_type": "workflow" if node_extra is not None else "manual",
            "awx_job_template_name": name, "tower_job_template_name": name,
            "awx_project_revision": self.revision, "awx_project_scm_branch": "main",
            "awx_inventory_name": "OpenClaw sandbox", "awx_user_name": "awx-sim",
            "awx_execution_node": "awx-sim",
        }  # fmt: skip
        # AWX: the template's own extra_vars, then the launch's (survey answers,
        # a workflow node's extra_data), then the credentials' extra_vars.
        extravars.update(template.get("extra_vars") or {})
        extravars.update(answers)
        extravars.update(node_extra or {})
        extravars.update(cred_extra)
        (pdd / "env" / "extravars").write_text(json.dumps(extravars, indent=1))

        envvars = {
            "JOB_ID": str(self.job_id), "INVENTORY_ID": "1", "PROJECT_REVISION": self.revision,
            "ANSIBLE_RETRY_FILES_ENABLED": "False", "ANSIBLE_FORCE_COLOR": "False",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(pdd / "cp"), "AWX_HOST": "https://awx-sim.invalid",
            "AWX_PRIVATE_DATA_DIR": str(pdd),
        }  # fmt: skip
        envvars.update(awx_path_env(pdd, project))
        envvars.update(cred_env)
        (pdd / "env" / "envvars").write_text(json.dumps(envvars, indent=1))

        # AWX: no machine credential means -u root.
        cmdline = ["-u", "root"]
        if job_type == "check":
            cmdline.append("--check")
        if template.get("job_tags"):
            cmdline += ["-t", template["job_tags"]]
        (pdd / "env" / "cmdline").write_text(" ".join(cmdline))

        # The job's environment is AWX's, not this shell's: nothing from the
        # Molecule run (its artifact directory, collection paths) leaks in.
        saved = {k: os.environ.pop(k) for k in list(os.environ)
                 if k.startswith(NOT_INHERITED)}  # fmt: skip
        start = time.monotonic()
        try:
            r = ansible_runner.run(
                private_data_dir=str(pdd), playbook=template["playbook"], ident="1",
                quiet=True, timeout=self.timeout, settings={"suppress_ansible_output": True},
            )  # fmt: skip
        finally:
            os.environ.update(saved)
        job.duration = time.monotonic() - start
        job.status, job.rc = r.status, r.rc
        job.stats = r.stats or {}
        job.changed = sum((job.stats.get("changed") or {}).values())
        if self.fleet:
            # A fleet's playbooks target some of its groups: the hosts they name.
            try:
                job.targets = playbook_hosts(pdd, template["playbook"], envvars)
            except SystemExit as exc:
                job.problems.append(str(exc))
        self._check(job, r, template, expect or {}, artifacts or [])
        if read_only:
            self.results.setdefault(key, job)
        return job

    def _check(self, job: Job, r, template: dict, expect: dict, artifacts: list[str]) -> None:
        """Assert status, rc, per-host stats, runner artifacts, job files, no secrets."""
        want = expect.get("status", "successful")
        art = job.pdd / "artifacts" / "1"
        stdout = (art / "stdout").read_text(errors="replace") if (art / "stdout").exists() else ""
        if job.status != want:
            tail = "\n".join(stdout.strip().splitlines()[-15:])
            job.problems.append(
                f"status {job.status} (rc {job.rc}), expected {want}; last lines:\n{tail}"
            )
        if want == "successful" and job.rc != 0:
            job.problems.append(f"rc {job.rc}, expected 0")
        if want == "failed" and not job.rc:
            job.problems.append(f"rc {job.rc}, expected non-zero")
        for f in ("rc", "status", "stdout", "command"):
            if not (art / f).is_file():
                job.problems.append(f"ansible-runner artifact {f} missing in {art}")
        if not list((art / "job_events").glob("*.json")):
            job.problems.append("ansible-runner wrote no job events")
        if (art / "rc").is_file() and (art / "rc").read_text().strip() != str(job.rc):
            job.problems.append(f"artifacts rc {(art / 'rc').read_text().strip()} != {job.rc}")
        # Per-host stats: every play's hosts reached, failures only when expected.
        local = ("playbooks/cloud_init.yml", "playbooks/kubernetes.yml")  # hosts: localhost
        targets = {"localhost"} if template["playbook"] in local else set(self.hosts)
        if job.targets is not None:
            targets = job.targets
        seen = set()
        for key in ("ok", "changed", "failures", "skipped", "dark", "processed"):
            seen |= set(job.stats.get(key) or {})
        if want == "successful":
            missing = targets - seen
            if missing:
                job.problems.append(
                    f"no stats for host(s) {sorted(missing)}: the play did not reach them"
                )
            for key in ("failures", "dark"):
                bad = {h: n for h, n in (job.stats.get(key) or {}).items() if n}
                if bad:
                    job.problems.append(f"per-host {key}: {bad}")
        if (job.stats.get("dark") or {}) and want == "failed":
            job.problems.append(
                f"unreachable hosts {job.stats['dark']}: the failure is not the job's own"
            )
        for pattern in expect.get("output_matches", []):
            if not re.search(pattern, stdout):
                job.problems.append(f"output does not match {pattern!r}")
        if expect.get("ok_before_failure"):
            job.problems += _ok_before_failure(art, expect["ok_before_failure"])
        for text in expect.get("output_contains", []):
            if text not in stdout:
                job.problems.append(f"output lacks {text!r}")
        for text in expect.get("output_lacks", []):
            if text in stdout:
                job.problems.append(f"output contains {text!r}")
        for secret in self.secrets:
            if secret in stdout:
                job.problems.append("a credential secret shows in the job output")
        project = job.pdd / "project"
        for pattern in artifacts:
            if not glob.glob(str(project / pattern)):
                job.problems.append(f"the job wrote no {pattern}")
            for path in glob.glob(str(project / pattern)):
                if os.path.getsize(path) == 0:
                    job.problems.append(f"{os.path.relpath(path, project)} is empty")


def _ok_before_failure(art: Path, tasks: list[str]) -> list[str]:
    """Each of ``tasks`` (name substrings) ran ok before the job's first failed task.

    A job expected to fail on a missing precondition (no Docker, no deployed
    runtime on a bare sandbox host) must have got past AWX's part (project,
    inventory, credentials, collections) and its argument specs first."""
    events = []
    for f in (art / "job_events").glob("*.json"):
        e = json.loads(f.read_text())
        if e.get("event") in ("runner_on_ok", "runner_on_failed"):
            events.append(
                (e.get("counter", 0), e["event"], (e.get("event_data") or {}).get("task", ""))
            )
    events.sort()
    first_fail = next((c for c, kind, _ in events if kind == "runner_on_failed"), None)
    problems = []
    for want in tasks:
        limit = first_fail if first_fail is not None else float("inf")
        if not any(k == "runner_on_ok" and want in t and c < limit for c, k, t in events):
            problems.append(f"no task {want!r} ran ok before the first failure")
    return problems


def template_runs(sim: Sim, only: set[str], full: bool) -> list[Job]:
    """Every job template, with its survey defaults and with the sample answers."""
    jobs = []
    plan = sim.plan["awx_sim_templates"]
    for name, template in sim.templates.items():
        if only and name not in only:
            continue
        if name not in plan:
            job = Job(template=name, answers="-", job_type="-", status="missing")
            job.problems.append("no entry in awx/sim.yml: every template must run")
            jobs.append(job)
            continue
        p = plan[name]
        defaults = survey_defaults(template)
        for label, answers, job_type, artifacts in (
            ("defaults", defaults, p["job_type"], p.get("artifacts", [])),
            ("sample", p["sample"], p.get("sample_job_type", p["job_type"]),
             p.get("sample_artifacts", p.get("artifacts", []))),
        ):  # fmt: skip
            if label in p.get("heavy", []) and not full:
                job = Job(template=name, answers=label, job_type=job_type, status="not run")
                job.reused = "heavy: --full runs it"
                report(job)
                jobs.append(job)
                continue
            expect = p.get("expect", {}) if label == "defaults" else p.get("sample_expect", {})
            if p.get("stack"):
                # A stack template fails on its missing precondition on a bare
                # host and must succeed where the stack runs (--stack).
                expect = {} if sim.stack else p.get("expect", {})
            wanted = [] if job_type == "check" else artifacts  # a check job writes nothing
            job = sim.run(name, answers, label, job_type, expect=expect, artifacts=wanted)
            report(job)
            jobs.append(job)
    return jobs


def run_workflow(
    sim: Sim, wf: dict, inject: dict | None, launch: dict
) -> tuple[list[str], str, list[Job]]:
    """Run a workflow node by node; returns the path taken, its status and the jobs.

    AWX semantics: start at the nodes no edge points to; after a node, follow
    its success edges if the job succeeded, its failure edges if it failed,
    and always edges either way. The workflow fails when a failed node has no
    failure or always edge."""
    nodes = {n["identifier"]: n for n in wf["nodes"]}
    targets = {
        t for n in wf["nodes"] for k in ("success", "failure", "always") for t in n.get(k, [])
    }
    queue = [i for i in nodes if i not in targets]
    path, jobs, status = [], [], "successful"
    plan = sim.plan["awx_sim_templates"]
    while queue:
        ident = queue.pop(0)
        node = nodes[ident]
        name = node["template"]
        answers = survey_defaults(sim.templates[name])
        # AWX: a node's prompts (extra_data), then the workflow's launch variables.
        extra = dict(node.get("extra_data", {}))
        extra.update(launch)
        expect = plan[name].get("expect", {}) if plan[name].get("stack") and not sim.stack else {}
        if inject and inject["node"] == ident:
            extra.update(inject["extra_vars"])
            expect = {"status": "failed", "output_matches": [inject["expect_output"]]}
        job = sim.run(name, answers, f"{wf['name']}:{ident}", plan[name]["job_type"],
                      node_extra=extra, expect=expect)  # fmt: skip
        report(job)
        jobs.append(job)
        path.append(ident)
        ok = job.status == "successful"
        nxt = node.get("success" if ok else "failure", []) + node.get("always", [])
        if not ok and not node.get("failure") and not node.get("always"):
            status = "failed"
        queue += [n for n in nxt if n not in path and n not in queue]
    return path, status, jobs


def report(job: Job) -> None:
    mark = "ok" if not job.problems else "FAILED"
    if job.reused:
        how = job.reused if job.status == "not run" else f"reused {job.reused}"
        print(
            f"--> {job.template} [{job.answers}, {job.job_type}]: {job.status} ({how})", flush=True
        )
        return
    print(f"--> {job.template} [{job.answers}, {job.job_type}]: {job.status} rc={job.rc} "
          f"changed={job.changed} {job.duration:.0f}s {mark}", flush=True)  # fmt: skip
    for p in job.problems:
        print("      " + p.replace("\n", "\n      "), flush=True)


def table(jobs: list[Job]) -> str:
    rows = [("template", "answers", "job type", "status", "changed", "duration", "checks")]
    for j in jobs:
        checks = "FAILED" if j.problems else ("ok" if not j.reused else "")
        if j.reused:
            checks = (checks + " " if checks else "") + (
                j.reused if j.status == "not run" else f"reused {j.reused}"
            )
        rows.append((j.template, j.answers, j.job_type, j.status, str(j.changed),
                     "-" if j.reused else f"{j.duration:.0f}s", checks))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--host",
        action="append",
        default=[],
        help="a sandbox host: a running container (repeatable)",
    )
    ap.add_argument(
        "--inventory",
        help="instead of --host: an inventory file AWX imports as it is, hosts and all "
        "(a fleet, e.g. a Molecule scenario's inventory); implies the stack runs there",
    )
    ap.add_argument(
        "--inventory-var", action="append", default=[], metavar="NAME=VALUE",
        help="with --inventory: a variable of the AWX inventory itself (repeatable)",
    )  # fmt: skip
    ap.add_argument(
        "--template", action="append", default=[], help="run only these templates (repeatable)"
    )
    ap.add_argument("--no-workflows", action="store_true", help="skip the workflows")
    ap.add_argument("--no-templates", action="store_true", help="skip the single template runs")
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "awx-sim"), help="report directory")
    ap.add_argument(
        "--keep", action="store_true", help="keep the private data dirs (in --out/jobs)"
    )
    ap.add_argument("--timeout", type=int, default=600, help="seconds per job (AWX's job timeout)")
    ap.add_argument("--stack", action="store_true",
                    help="the hosts run the whole stack: stack jobs must succeed")  # fmt: skip
    ap.add_argument(
        "--full", action="store_true", help="also run the answer sets the plan marks heavy"
    )
    ap.add_argument("--worktree", action="store_true",
                    help="project = tracked files as in the working tree, not HEAD")  # fmt: skip
    ap.add_argument(
        "--list-playbooks", action="store_true", help="print the playbooks AWX lists and exit"
    )
    args = ap.parse_args()

    controller = yaml.safe_load(CONTROLLER.read_text())
    controller = _render(controller, {})
    plan = yaml.safe_load(PLAN.read_text())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.list_playbooks:
        with tempfile.TemporaryDirectory() as tmp:
            checkout_project(Path(tmp), args.worktree)
            print("\n".join(project_playbooks(Path(tmp))))
        return 0
    if not args.host and not args.inventory:
        ap.error(
            "give the sandbox hosts with --host (e.g. the Molecule scenario awx's awx-debian12), "
            "or a fleet's inventory file with --inventory"
        )
    if args.host and args.inventory:
        ap.error("--host and --inventory exclude each other: the inventory names its hosts")
    inventory_vars = {}
    for item in args.inventory_var:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not args.inventory:
            ap.error(f"--inventory-var {item!r}: give NAME=VALUE, with --inventory")
        inventory_vars[name.strip()] = value
    for h in args.host:
        res = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Running}}", h],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if res.stdout.strip() != "true":
            ap.error(
                f"sandbox host {h} is not a running Docker container (make awx-sim creates it)"
            )

    workdir = out / "jobs"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    sim = Sim(args.host, workdir, controller, plan, args.timeout, args.worktree,
              args.stack or bool(args.inventory), inventory=args.inventory,
              inventory_vars=inventory_vars)  # fmt: skip
    print(f"==> project at {sim.revision[:12]}: AWX lists {len(sim.playbooks)} playbooks; "
          f"{'fleet' if args.inventory else 'sandbox'} hosts {', '.join(sim.hosts)}",
          flush=True)  # fmt: skip
    jobs: list[Job] = []
    problems: list[str] = []
    for t in sim.templates.values():
        if t["playbook"] not in sim.playbooks:
            problems.append(f"template {t['name']}: AWX would not offer {t['playbook']}")
    started = time.monotonic()
    if not args.no_templates:
        jobs += template_runs(sim, set(args.template), args.full)
    wf_lines = []
    if not args.no_workflows and not args.template:
        for wf in controller["awx_workflows"]:
            wplan = plan["awx_sim_workflows"].get(wf["name"])
            if wplan is None:
                problems.append(f"workflow {wf['name']}: no entry in awx/sim.yml")
                continue
            for inject in (None, wplan["inject"]):
                nominal = wplan["expect_path"] if sim.stack else wplan["bare_expect_path"]
                want = nominal if inject is None else inject["expect_path"]
                path, status, wjobs = run_workflow(
                    sim, wf, inject, wplan.get("launch_extra_vars", {})
                )
                jobs += wjobs
                label = "nominal" if inject is None else f"failure injected into {inject['node']}"
                line = f"{wf['name']} ({label}): {' -> '.join(path)}: {status}"
                wf_lines.append(line)
                print("==> workflow " + line, flush=True)
                if path != want:
                    problems.append(f"workflow {wf['name']} ({label}) took {path}, expected {want}")
                # With the stack every run ends successful (the rollback
                # succeeds); on a bare host the rollback node itself fails on
                # its precondition, so AWX marks the workflow failed.
                want_status = "successful" if sim.stack else wplan.get("bare_status", "successful")
                if status != want_status:
                    problems.append(
                        f"workflow {wf['name']} ({label}) ended {status}, expected {want_status}"
                    )
    for j in jobs:
        if not j.reused:  # a reused result's problems are counted once, at its own job
            problems += [f"{j.template} [{j.answers}]: {p.splitlines()[0]}" for p in j.problems]

    text = table(jobs)
    total = time.monotonic() - started
    summary = f"{len(jobs)} jobs in {total:.0f}s; {len(problems)} problem(s)"
    print("\n" + text + "\n\n" + "\n".join(wf_lines) + "\n\n" + summary, flush=True)
    (out / "table.txt").write_text(text + "\n\n" + "\n".join(wf_lines) + "\n\n" + summary + "\n")
    (out / "report.json").write_text(json.dumps({
        "revision": sim.revision, "hosts": sim.hosts, "seconds": round(total, 1),
        "jobs": [{"template": j.template, "answers": j.answers, "job_type": j.job_type,
                  "status": j.status, "rc": j.rc, "changed": j.changed,
                  "seconds": round(j.duration, 1), "stats": j.stats, "reused": j.reused,
                  "problems": j.problems} for j in jobs],
        "workflows": wf_lines, "problems": problems,
    }, indent=1))  # fmt: skip
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    for p in problems:
        print("PROBLEM: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

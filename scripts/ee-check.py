#!/usr/bin/env python3
"""Render the execution environment's build context and check it (make lint).

Runs ``ansible-builder create`` on execution-environment.yml into a temporary
directory (no image is built: that needs a dnf-based base image, which cannot
be pulled here) and checks what it generated:

- the Containerfile takes its base from the ``EE_BASE_IMAGE`` build argument;
- nothing is installed from Galaxy (no ``ansible-galaxy`` step);
- ansible-core and ansible-runner, and every Python requirement it lists, are
  pinned to exactly the versions of requirements/constraints.txt;
- the collections our playbooks and roles call (their FQCNs) are all bundled
  with the pinned ``ansible`` package or shipped in the project's collections/;
- the bindep file parses, and on this (dpkg) platform names the packages.

Exit 1 with one line per problem.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml


class _Loader(yaml.SafeLoader):
    """Safe YAML that reads !vault and other Ansible tags as plain strings."""


_Loader.add_multi_constructor("!", lambda loader, _suffix, node: loader.construct_scalar(node))

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)")
FQCN = re.compile(r"^([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+$")
CORE = {"ansible.builtin", "ansible.legacy"}


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[", maxsplit=1)[0]).lower()


def constraints() -> dict[str, str]:
    """Return {canonical name: version} from requirements/constraints.txt."""
    pins = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        m = PIN.match(line.strip())
        if m:
            pins[_canon(m.group(1))] = m.group(2)
    return pins


def check_pins(lines: list[str], pins: dict[str, str], where: str) -> list[str]:
    """Every requirement in ``lines`` must be ``name==version`` with the lock's version."""
    problems = []
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = PIN.match(line)
        if not m:
            problems.append(f"{where}: {line!r} is not pinned with == (pin it as constraints.txt)")
            continue
        name, version = _canon(m.group(1)), m.group(2)
        if name not in pins:
            problems.append(f"{where}: {name} is not in requirements/constraints.txt (add it)")
        elif pins[name] != version:
            problems.append(
                f"{where}: {name}=={version} but requirements/constraints.txt pins {pins[name]}"
            )
    return problems


def _fqcns(node: object) -> set[str]:
    """Collections of the modules (keys of a task: a mapping with a name) and connections."""
    found = set()
    if isinstance(node, dict):
        keys = [k for k in node if isinstance(k, str)]
        for key in keys if "name" in node else []:
            m = FQCN.match(key)
            if m:
                found.add(f"{m.group(1)}.{m.group(2)}")
        for key in ("ansible_connection", "connection"):
            m = FQCN.match(str(node.get(key, "")))
            if m:
                found.add(f"{m.group(1)}.{m.group(2)}")
        for value in node.values():
            found |= _fqcns(value)
    elif isinstance(node, list):
        for item in node:
            found |= _fqcns(item)
    return found


def used_collections() -> set[str]:
    """Collections named by FQCN in the playbooks, roles, inventories and awx/."""
    found = set()
    for base in ("playbooks", "roles", "inventories", "awx"):
        for path in (ROOT / base).rglob("*.yml"):
            found |= _fqcns(yaml.load(path.read_text(), Loader=_Loader))
    return found - CORE


def bundled_collections() -> set[str]:
    """Collections the installed ``ansible`` package ships, plus the project's own."""
    have = set()
    dist = importlib.metadata.distribution("ansible")
    for f in dist.files or ():
        parts = Path(str(f)).parts
        if len(parts) >= 4 and parts[0] == "ansible_collections" and parts[3] == "MANIFEST.json":
            have.add(f"{parts[1]}.{parts[2]}")
    for manifest in (ROOT / "collections" / "ansible_collections").glob("*/*/galaxy.yml"):
        have.add(f"{manifest.parent.parent.name}.{manifest.parent.name}")
    for manifest in (ROOT / "collections" / "ansible_collections").glob("*/*/MANIFEST.json"):
        have.add(f"{manifest.parent.parent.name}.{manifest.parent.name}")
    return have


def check_context(ctx: Path, pins: dict[str, str]) -> list[str]:
    """Check the build context ansible-builder wrote into ``ctx``."""
    problems = []
    containerfile = (ctx / "Containerfile").read_text()
    if not re.search(r'^ARG EE_BASE_IMAGE="[^"]+"', containerfile, re.M):
        problems.append("Containerfile: no ARG EE_BASE_IMAGE default (images.base_image.name)")
    if "FROM $EE_BASE_IMAGE" not in containerfile:
        problems.append("Containerfile: the base stage does not start FROM $EE_BASE_IMAGE")
    if "ansible-galaxy" in containerfile or (ctx / "_build" / "requirements.yml").exists():
        problems.append(
            "Containerfile: installs collections from Galaxy (remove dependencies.galaxy; "
            "Galaxy cannot be reached: the collections come with the ansible package)"
        )
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', containerfile, re.M)
    install_refs = refs.group(1).split() if refs else []
    names = sorted(_canon(PIN.match(r).group(1)) for r in install_refs if PIN.match(r))
    if names != ["ansible-core", "ansible-runner"]:
        problems.append(
            f"Containerfile: ANSIBLE_INSTALL_REFS must pin ansible-core, ansible-runner: {names}"
        )
    problems += check_pins(install_refs, pins, "ANSIBLE_INSTALL_REFS")
    req = ctx / "_build" / "requirements.txt"
    if not req.exists():
        problems.append("_build/requirements.txt missing (dependencies.python is empty)")
        return problems
    lines = req.read_text().splitlines()
    problems += check_pins(lines, pins, "_build/requirements.txt")
    if "ansible" not in {_canon(PIN.match(x).group(1)) for x in lines if PIN.match(x)}:
        problems.append("_build/requirements.txt: no `ansible` package (the bundled collections)")
    missing = sorted(used_collections() - bundled_collections())
    if missing:
        problems.append(
            f"collections used but neither bundled with ansible nor in collections/: {missing}"
        )
    bindep = ctx / "_build" / "bindep.txt"
    if not bindep.exists():
        problems.append("_build/bindep.txt missing (dependencies.system is empty)")
        return problems
    tool = shutil.which("bindep") or str(Path(sys.executable).with_name("bindep"))
    listed = subprocess.run(
        [tool, "--file", str(bindep), "--list_all", "newline"],
        check=False,
        capture_output=True,
        text=True,
    )
    if listed.returncode != 0:
        problems.append(f"bindep cannot read _build/bindep.txt: {listed.stderr.strip()}")
    elif "openssh-client" not in listed.stdout.split():
        problems.append(
            f"bindep lists no openssh-client on this dpkg platform: {listed.stdout.split()}"
        )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default=str(ROOT / "execution-environment.yml"))
    parser.add_argument("--keep", metavar="DIR", help="write the build context here and keep it")
    args = parser.parse_args()
    builder = shutil.which("ansible-builder") or str(
        Path(sys.executable).with_name("ansible-builder")
    )
    with tempfile.TemporaryDirectory(prefix="openclaw-ee-") as tmp:
        ctx = Path(args.keep or tmp) / "context"
        run = subprocess.run(
            [builder, "create", "-f", args.file, "-c", str(ctx)]
            + ["--output-filename", "Containerfile"],
            check=False,
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            print(f"ansible-builder create failed:\n{run.stdout}{run.stderr}")
            return 1
        problems = check_context(ctx, constraints())
    for problem in problems:
        print(f"execution-environment.yml: {problem}")
    if not problems:
        print(f"execution environment build context OK ({args.file})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

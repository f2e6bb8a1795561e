"""make awx-sim: every AWX job template and workflow, run as AWX runs them.

The harness (scripts/awx-sim.py, plan awx/sim.yml) builds each job's
private_data_dir and runs it through ansible-runner against this scenario's
containers; it prints the table and exits 1 on any failed assertion. The
report lands in artifacts/awx-sim/ (table.txt, report.json).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
OUT = ROOT / "artifacts" / "awx-sim"


def _hosts() -> list[str]:
    """The scenario's hosts (the container names) from Molecule's inventory."""
    path = Path(os.environ["MOLECULE_INVENTORY_FILE"])
    if path.is_dir():
        path = path / "ansible_inventory.yml"
    inventory = yaml.safe_load(path.read_text())
    return sorted(inventory["all"]["hosts"])


def test_every_template_and_workflow_runs_as_in_awx():
    args = [sys.executable, str(ROOT / "scripts" / "awx-sim.py"), "--out", str(OUT)]
    for host in _hosts():
        args += ["--host", host]
    res = subprocess.run(args, cwd=ROOT, check=False)
    report = json.loads((OUT / "report.json").read_text())
    assert res.returncode == 0, "\n".join(report["problems"])
    assert not report["problems"]
    # Every job template of awx/controller.yml ran with both answer sets.
    controller = yaml.safe_load((ROOT / "awx" / "controller.yml").read_text())
    names = {t["name"] for t in controller["awx_job_templates"]}
    ran = {(j["template"], j["answers"]) for j in report["jobs"]}
    assert {(n, a) for n in names for a in ("defaults", "sample")} <= ran
    assert len(report["workflows"]) == 2 * len(controller["awx_workflows"])

"""site.yml ends with playbooks/monitoring.yml, which is a no-op without a monitoring group.

ansible-playbook --list-hosts resolves every play's hosts from an inventory
without connecting: the monitoring play must be site.yml's last, match no
host when the inventory has no (or an empty) ``monitoring`` group (the
cluster scenario's fleet, for one), and every host when it has one (the node
exporter runs everywhere). Running monitoring.yml against the first
inventory must succeed without touching a host.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from render import run_playbook

FLEET = {
    "openclaw": {"hosts": {"h1": {}, "h2": {}}},
    "redis": {"hosts": {"r1": {}}},
    "loadbalancers": {"hosts": {"lb1": {}}},
}


def _run(tmp_path, inventory: dict, *args: str) -> subprocess.CompletedProcess:
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(yaml.safe_dump({"all": {"children": inventory}}))
    return run_playbook(["-i", str(hosts), *args], tmp_path / "ansible-home")


def _plays(output: str) -> list[tuple[str, list[str]]]:
    """(play name, hosts) of each play in --list-hosts output, in order."""
    plays = []
    for block in re.split(r"\n\s*play #\d+ ", output)[1:]:
        name = re.match(r"\([^)]*\): (.*?)\tTAGS", block)[1]
        count = int(re.search(r"hosts \((\d+)\):", block)[1])
        lines = block.split("hosts (")[1].splitlines()[1 : 1 + count]
        plays.append((name, sorted(line.strip() for line in lines)))
    return plays


@pytest.mark.parametrize(
    ("monitoring", "expected"),
    [
        (None, []),
        ({"hosts": {}}, []),
        ({"hosts": {"mon": {}}}, ["h1", "h2", "lb1", "mon", "r1"]),
    ],
    ids=["no-group", "empty-group", "with-prometheus-host"],
)
def test_site_yml_ends_with_monitoring_on_every_host_only_with_a_monitoring_group(
    tmp_path, monitoring, expected
):
    inventory = {**FLEET, **({"monitoring": monitoring} if monitoring is not None else {})}
    run = _run(tmp_path, inventory, "--list-hosts", "playbooks/site.yml")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    plays = _plays(run.stdout)
    assert plays[-1] == ("Monitoring and alerting", expected), plays
    # The earlier stages still see the fleet (the import changed nothing before it).
    assert ("Run the Redis result cache", ["r1"]) in plays


def test_monitoring_yml_without_a_monitoring_group_touches_no_host(tmp_path):
    # Unresolvable hosts: any connection attempt would fail the run.
    run = _run(tmp_path, FLEET, "playbooks/monitoring.yml")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "skipping: no hosts matched" in run.stdout
    assert "Gathering Facts" not in run.stdout

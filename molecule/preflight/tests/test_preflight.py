"""Behaviour of openclaw_preflight on a real systemd host container."""

import json
import os
import subprocess

import pytest

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
SCENARIO_DIR = os.environ["MOLECULE_SCENARIO_DIRECTORY"]
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
REPORTS = os.path.join(PROJECT, "artifacts", "molecule", "preflight", "preflight")
MIB = 1024 * 1024


def _report(host):
    name = host.backend.get_hostname()
    with open(os.path.join(REPORTS, name + ".json")) as handle:
        return json.load(handle)


def _checks(report):
    return {c["name"]: c for c in report["checks"]}


def _negative(host, tmp_path, *extra):
    """Run the role again on this host with extra -e settings; return (rc, output)."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_ROLES_PATH=os.path.join(PROJECT, "roles"),
        ANSIBLE_COLLECTIONS_PATH=os.path.join(PROJECT, "collections"),
        OPENCLAW_ARTIFACTS=str(tmp_path),
        ANSIBLE_FORCE_COLOR="false",
    )
    cmd = [
        "ansible-playbook",
        "-i",
        INVENTORY,
        "--limit",
        host.backend.get_hostname(),
        os.path.join(SCENARIO_DIR, "negative.yml"),
    ]
    for item in extra:
        cmd += ["-e", item]
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_report_matches_what_the_host_says(host):
    report = _report(host)
    facts = report["facts"]
    meminfo = host.file("/proc/meminfo").content_string
    total_kib = int(next(x for x in meminfo.splitlines() if x.startswith("MemTotal")).split()[1])
    assert facts["memory"]["total_bytes"] == total_kib * 1024
    assert facts["kernel"]["release"] == host.run("uname -r").stdout.strip()
    assert facts["cpu"]["online_cores"] == int(host.run("getconf _NPROCESSORS_ONLN").stdout)
    has_avx2 = " avx2 " in " " + host.file("/proc/cpuinfo").content_string.replace("\n", " ") + " "
    assert facts["cpu"]["avx2"] is has_avx2
    fstype = host.run("findmnt -n -o FSTYPE --target /").stdout.strip()
    assert facts["disks"]["system"]["fstype"] == fstype
    # /srv/openclaw does not exist yet: it is judged by the file system of /srv.
    assert facts["disks"]["data"]["exists"] is False
    cgroup_fs = host.run("stat -f -c %T /sys/fs/cgroup").stdout.strip()
    assert (facts["cgroup"]["mode"] == "v2") == (cgroup_fs == "cgroup2fs")


def test_report_ports_and_checks(host):
    report = _report(host)
    ports = {p["port"]: p for p in report["facts"]["ports"]}
    assert sorted(ports) == [80, 443, 8001, 8002]
    assert not any(p["in_use"] for p in ports.values())
    checks = _checks(report)
    assert checks["memory"]["ok"] and checks["cpu_cores"]["ok"] and checks["kernel"]["ok"]
    # The container's root is overlay without noatime: a warning that points
    # at the storage role, never a silent pass.
    assert checks["data_fs"]["severity"] == "warning"
    assert "openclaw_storage" in checks["data_fs"]["message"]


def test_impossible_memory_fails_with_a_clear_message(host, tmp_path):
    rc, out = _negative(host, tmp_path, "openclaw_preflight_min_memory_mib=10485760")
    assert rc != 0, out
    assert "at least 10485760 MiB required; resize the instance" in out
    assert "Preflight failed on" in out


def test_foreign_listener_is_named_with_its_pid(host, tmp_path):
    pid = host.run("systemctl show -p MainPID --value foreign-listener").stdout.strip()
    assert pid.isdigit() and int(pid) > 0
    rc, out = _negative(host, tmp_path, '{"openclaw_preflight_ports": [8009]}')
    assert rc != 0, out
    assert "port 8009: already in use by python3 PID %s" % pid in out


def test_enforce_false_turns_failures_into_warnings(host, tmp_path):
    rc, out = _negative(
        host, tmp_path, '{"openclaw_preflight_ports": [8009]}', "openclaw_preflight_enforce=false"
    )
    assert rc == 0, out
    assert "WARNING: port 8009: already in use by python3" in out
    report = json.loads(
        (tmp_path / "preflight" / (host.backend.get_hostname() + ".json")).read_text()
    )
    assert not _checks(report)["port_8009"]["ok"]


@pytest.mark.parametrize("bad", ["openclaw_preflight_min_memory_mib=lots"])
def test_argument_specs_reject_bad_values(host, tmp_path, bad):
    rc, out = _negative(host, tmp_path, bad)
    assert rc != 0
    assert "openclaw_preflight_min_memory_mib" in out

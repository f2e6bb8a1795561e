"""Run the host_report module on this machine through AnsibleModule."""

import json
import os
import socket

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.openclaw.platform.plugins.modules import host_report


def _comm():
    with open("/proc/self/comm") as handle:
        return handle.read().strip()


def _run(args):
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        host_report.main()
    return exc.value.code


def test_module_reports_this_machine(capsys):
    code = _run({"ports": [1], "data_path": "/nonexistent/openclaw/data"})
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["changed"] is False
    facts = result["facts"]
    assert facts["memory"]["total_bytes"] > 0
    assert facts["cpu"]["usable_cores"] >= 1
    assert facts["disks"]["data"]["exists"] is False
    assert facts["disks"]["data"]["mount_point"].startswith("/")
    assert facts["ports"] == [{"port": 1, "in_use": False, "processes": []}]
    names = {c["name"] for c in result["checks"]}
    assert {"memory", "cpu_cores", "kernel", "cgroup", "data_fs", "port_1"} <= names


def test_module_names_a_listener_it_finds(capsys):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    port = sock.getsockname()[1]
    try:
        _run({"ports": [port]})
    finally:
        sock.close()
    result = json.loads(capsys.readouterr().out)
    entry = result["facts"]["ports"][0]
    assert entry["in_use"] is True
    assert {"pid": os.getpid(), "name": _comm()} in entry["processes"]
    assert any("port %d: already in use" % port in f for f in result["failures"])


def test_bad_min_kernel_is_rejected(capsys):
    code = _run({"min_kernel": "latest"})
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and "min_kernel" in result["msg"]

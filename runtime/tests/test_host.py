"""Host facts shared by the supervisor and the workers, and the import direction between them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from openclaw_runtime.host import bind_socket, cpu_quota


def test_worker_and_supervisor_do_not_import_each_other():
    code = (
        "import sys\n"
        "import openclaw_runtime.http.worker\n"
        "print('openclaw_runtime.supervisor' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "False"  # the worker takes its socket from host, not supervisor
    code = "import sys, openclaw_runtime.supervisor; print('openclaw_runtime.http' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "150000 100000\n"}, 2),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),
    ],
)
def test_cpu_quota_reads_cgroup_v2_and_v1(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    cpus = len(os.sched_getaffinity(0))
    assert cpu_quota(str(tmp_path)) == (cpus if expected is None else min(cpus, expected))


def test_two_sockets_share_a_port_with_reuseport():
    first = bind_socket("127.0.0.1", 0, 16)
    try:
        second = bind_socket("127.0.0.1", first.getsockname()[1], 16)
        second.close()
    finally:
        first.close()

"""openclaw_runtime's self-healing script against the host's Docker engine.

The script is rendered from the role's template with the role's variables (a
label of the test's own, so no other container is touched) and run directly,
as the systemd timer would. Two containers stand in for replicas: each reports
healthy a few seconds after it starts unless a flag file says it is sick. A
flag in /tmp (a tmpfs) goes with a restart; one in a bind-mounted directory
stays.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from roletasks import ROOT, RUNTIME_IMAGE, docker_answers, run_playbook

IMAGE = RUNTIME_IMAGE
TEMPLATE = ROOT / "roles" / "openclaw_runtime" / "templates" / "openclaw-runtime-heal.j2"
# Healthy once its start-up (3 s) is over, unless sick until a restart or for good.
HEALTH = "test -e /tmp/up && test ! -e /tmp/sick && test ! -e /flags/sick"
START = "sleep 3 && touch /tmp/up && exec sleep infinity"

pytestmark = pytest.mark.skipif(
    not docker_answers(),
    reason="the Docker engine does not answer (make docker starts it)",
)


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def _state(name: str) -> dict:
    return json.loads(_docker("inspect", name))[0]["State"]


def _ts(value: str) -> datetime:
    """Docker's RFC 3339 time with nanoseconds, to microseconds."""
    head, _, frac = value.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}")


def _wait(names: list[str], status: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(_state(n).get("Health", {}).get("Status") == status for n in names):
            return
        time.sleep(0.5)
    pytest.fail(f"{names} not {status} within {timeout}s: {[_state(n) for n in names]}")


@pytest.fixture
def replicas(tmp_path, runtime_image):
    """Two labelled stand-in replicas; yields (label, names, flag directory)."""
    label = f"org.openclaw.test.heal-{uuid.uuid4().hex[:8]}"
    flags = tmp_path / "flags"
    flags.mkdir()
    names = [f"oc-heal-{label[-8:]}-{i}" for i in (1, 2)]
    try:
        for name in names:
            (flags / name).mkdir()
            _docker(
                "run", "-d", "--init", "--name", name, "--label", f"{label}={name[-1]}",
                "--tmpfs", "/tmp", "-v", f"{flags / name}:/flags:ro",
                "--health-cmd", HEALTH, "--health-interval", "1s", "--health-timeout", "2s",
                "--health-retries", "1", "--health-start-period", "0s",
                "--entrypoint", "sh", runtime_image, "-c", START,
            )  # fmt: skip
        _wait(names, "healthy")
        yield label, names, flags
    finally:
        subprocess.run(["docker", "rm", "-f", *names], check=False, capture_output=True)


def _render(tmp_path: Path, label: str, ready_timeout: int) -> Path:
    """The heal script as the role writes it, with the role's variables."""
    script = tmp_path / "openclaw-runtime-heal"
    playbook = tmp_path / "render.yml"
    playbook.write_text(
        f"""- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: openclaw_runtime
        tasks_from: vars.yml
        public: true
    - ansible.builtin.template:
        src: {TEMPLATE}
        dest: {script}
        mode: "0755"
        validate: sh -n %s
"""
    )
    extra = {
        "__openclaw_runtime_label": label,
        "__openclaw_runtime_docker_bin": subprocess.check_output(
            ["sh", "-c", "command -v docker"], text=True
        ).strip(),
        "openclaw_runtime_ready_timeout": ready_timeout,
        "openclaw_runtime_shutdown_grace_seconds": 1,
        "openclaw_runtime_shutdown_delay_seconds": 0,
    }
    run = run_playbook(
        [str(playbook), "-i", "localhost,", "-e", json.dumps(extra)],
        tmp_path / "ansible-home",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return script


def test_unhealthy_replicas_are_restarted_one_at_a_time(tmp_path, replicas):
    label, names, _ = replicas
    script = _render(tmp_path, label, ready_timeout=60)
    for name in names:
        _docker("exec", name, "touch", "/tmp/sick")
    _wait(names, "unhealthy")
    heal = subprocess.run([str(script)], check=False, capture_output=True, text=True, timeout=180)
    assert heal.returncode == 0, heal.stdout + heal.stderr
    lines = heal.stdout.splitlines()
    restarted = [line.split()[1] for line in lines if line.endswith("is unhealthy: restarting it")]
    assert sorted(restarted) == sorted(names), lines
    first, second = restarted
    # The second restart waits for the first replica's "healthy again".
    assert [line.split()[1] for line in lines] == [first, first, second, second], lines
    assert "healthy again" in lines[1] and "healthy again" in lines[3], lines
    # A replica cannot be healthy within 3 s of its start: restarted together
    # (the old script), the two starts are closer than that.
    gap = _ts(_state(second)["StartedAt"]) - _ts(_state(first)["StartedAt"])
    assert gap.total_seconds() >= 3, gap
    _wait(names, "healthy")


def test_a_replica_that_stays_unhealthy_does_not_block_the_others(tmp_path, replicas):
    label, names, flags = replicas
    script = _render(tmp_path, label, ready_timeout=6)
    stuck, other = names
    (flags / stuck / "sick").touch()  # survives the restart
    _docker("exec", other, "touch", "/tmp/sick")  # gone with the restart
    _wait(names, "unhealthy")
    heal = subprocess.run([str(script)], check=False, capture_output=True, text=True, timeout=180)
    assert heal.returncode == 1, heal.stdout + heal.stderr
    # Still "starting" or "unhealthy", depending on how far its checks got.
    assert f"replica {stuck} is still " in heal.stderr, heal.stderr
    assert "6 s after its restart: going on with the next" in heal.stderr, heal.stderr
    assert f"replica {other} is healthy again" in heal.stdout
    assert _state(other)["Health"]["Status"] == "healthy"

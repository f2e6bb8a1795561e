"""openclaw-runtime-probe against the real server: ready means exit 0, nothing listening exit 1."""

from __future__ import annotations

import subprocess
import sys

from .conftest import free_port


def _probe(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openclaw_runtime.probe", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )


def test_probe_reads_the_port_from_the_servers_config(server):
    config = server.log.parent / "runtime.yaml"
    ok = _probe("--config", str(config), env={"PATH": "/usr/bin:/bin"})
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_probe_fails_and_says_why_when_nothing_answers():
    port = free_port()
    bad = _probe(env={"PATH": "/usr/bin:/bin", "OPENCLAW_SERVER_PORT": str(port)})
    assert bad.returncode == 1
    assert f"http://127.0.0.1:{port}/v2/health/ready" in bad.stdout

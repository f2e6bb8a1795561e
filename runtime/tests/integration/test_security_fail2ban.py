"""The shipped fail2ban filter matches the runtime's real audit lines (fail2ban-regex).

fail2ban comes from Debian's package, installed here when missing.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from .secserver import RuntimeServer, ensure_debian_package, request

pytestmark = pytest.mark.integration

FAIL2BAN_DIR = Path(__file__).resolve().parents[2] / "fail2ban"
FILTER = FAIL2BAN_DIR / "openclaw-auth.conf"
JAIL = FAIL2BAN_DIR / "jail.openclaw-auth.conf.example"


@pytest.fixture(scope="module")
def fail2ban_regex() -> str:
    ensure_debian_package("fail2ban-client", "fail2ban")
    return ensure_debian_package("fail2ban-regex", "fail2ban")


@pytest.fixture(scope="module")
def audit_log(tmp_path_factory, demo_onnx) -> tuple[Path, dict]:
    """Drive the real server: failures from two addresses, plus lines that must not match."""
    from openclaw_runtime.models.demo import build_demo_model

    root = tmp_path_factory.mktemp("f2b")
    build_demo_model(root / "repo", onnx_bytes=demo_onnx)
    srv = RuntimeServer(root / "srv", root / "repo", {"auth": {"max_failures": 0}})
    observer = srv.create_key("observer", name="obs")
    srv.start()
    try:
        bad = "oc_" + "1" * 16 + "_" + "B" * 43
        for _ in range(4):
            assert request(srv.port, "GET", "/v2", key=bad, source="127.0.0.5")[0] == 401
        for _ in range(2):
            assert request(srv.port, "GET", "/v2", key="junk", source="127.0.0.6")[0] == 401
        # Lines that must not count: missing key, permission denied, success, health.
        assert request(srv.port, "GET", "/v2", source="127.0.0.7")[0] == 401
        assert request(srv.port, "GET", "/v2", key=observer["key"], source="127.0.0.8")[0] == 403
        assert request(srv.port, "GET", "/metrics", key=observer["key"])[0] == 200
        assert request(srv.port, "GET", "/v2/health/ready", source="127.0.0.9")[0] == 200
    finally:
        srv.stop()
    return srv.audit, observer


def test_filter_matches_exactly_the_auth_failures(fail2ban_regex, audit_log):
    audit, _ = audit_log
    out = subprocess.run(
        [fail2ban_regex, "-o", "row", str(audit), str(FILTER)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    rows = [ast.literal_eval(ln.rstrip(",")) for ln in out.splitlines() if ln.startswith("[")]
    ips = [row[0] for row in rows]
    assert sorted(ips) == ["127.0.0.5"] * 4 + ["127.0.0.6"] * 2
    # The timestamps are read as UTC (the lines end in Z), not as local time.
    failed = [ln for ln in audit.read_text().splitlines() if '"event":"auth.failed"' in ln]
    first_ts = datetime.fromisoformat(failed[0].split('"ts":"')[1].split('"')[0])
    assert abs(rows[0][1] - first_ts.timestamp()) < 1.5


def test_audit_never_contains_a_key(audit_log):
    audit, observer = audit_log
    text = audit.read_text()
    assert observer["key"] not in text
    assert "B" * 43 not in text and "junk" not in text


def test_jail_example_passes_fail2ban_configuration_test(fail2ban_regex, audit_log, tmp_path):
    audit, _ = audit_log
    conf = tmp_path / "fail2ban"
    shutil.copytree("/etc/fail2ban", conf)
    for extra in (conf / "jail.d").iterdir():
        extra.unlink()  # Debian's sshd jail needs an sshd log this machine may not have
    shutil.copy(FILTER, conf / "filter.d" / FILTER.name)
    jail = JAIL.read_text().replace("/var/log/openclaw/audit*.log", str(audit))
    (conf / "jail.d" / "openclaw-auth.conf").write_text(jail)
    proc = subprocess.run(
        ["fail2ban-client", "-c", str(conf), "-t"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""fail2ban's textfile collector (roles/openclaw_monitoring/files/openclaw-fail2ban-metrics.py).

The script runs against a stand-in ``fail2ban-client`` that answers with the
text fail2ban 1.0.2 (Debian 12) printed for a jail with two manual bans
(recorded in a container); the file it writes must pass ``promtool check
metrics`` and carry each jail's counters. A client that fails or answers
something else yields ``fail2ban_up 0`` and a non-zero exit.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = (
    Path(__file__).resolve().parents[2]
    / "roles"
    / "openclaw_monitoring"
    / "files"
    / "openclaw-fail2ban-metrics.py"
)

STATUS = "Status\n|- Number of jail:\t2\n`- Jail list:\trecidive, openclaw-auth\n"
JAILS = {
    "recidive": (
        "Status for the jail: recidive\n"
        "|- Filter\n"
        "|  |- Currently failed:\t0\n"
        "|  |- Total failed:\t3\n"
        "|  `- File list:\t/var/log/fail2ban.log\n"
        "`- Actions\n"
        "   |- Currently banned:\t2\n"
        "   |- Total banned:\t2\n"
        "   `- Banned IP list:\t192.0.2.1 192.0.2.2\n"
    ),
    "openclaw-auth": (
        "Status for the jail: openclaw-auth\n"
        "|- Filter\n"
        "|  |- Currently failed:\t4\n"
        "|  |- Total failed:\t17\n"
        "|  `- File list:\t/var/log/openclaw/audit.log\n"
        "`- Actions\n"
        "   |- Currently banned:\t1\n"
        "   |- Total banned:\t5\n"
        "   `- Banned IP list:\t198.51.100.7\n"
    ),
}


def _client(tmp_path: Path, answers: dict[str, str], rc: int = 0) -> Path:
    """An executable that prints answers[jail or ''] for ``status [jail]``."""
    client = tmp_path / "fail2ban-client"
    client.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"answers = {answers!r}\n"
        "assert sys.argv[1] == 'status', sys.argv\n"
        "jail = sys.argv[2] if len(sys.argv) > 2 else ''\n"
        "if jail not in answers:\n"
        "    print('Sorry but the jail does not exist', file=sys.stderr); sys.exit(255)\n"
        "print(answers[jail], end='')\n"
        f"sys.exit({rc})\n"
    )
    client.chmod(0o755)
    return client


def _run(tmp_path: Path, client: Path) -> tuple[subprocess.CompletedProcess, str]:
    out = tmp_path / "textfile" / "fail2ban.prom"
    out.parent.mkdir(exist_ok=True)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--output", str(out), "--client", str(client)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc, out.read_text()


def _samples(text: str) -> dict[str, float]:
    return {
        m[1]: float(m[2])
        for m in re.finditer(r"^([a-z0-9_]+(?:\{[^}]*\})?) (\S+)$", text, re.MULTILINE)
    }


def test_each_jail_s_counters_are_written_in_the_text_format(tmp_path):
    proc, text = _run(tmp_path, _client(tmp_path, {"": STATUS, **JAILS}))
    assert proc.returncode == 0, proc.stderr
    samples = _samples(text)
    assert samples["fail2ban_up"] == 1
    assert samples['fail2ban_banned_total{jail="recidive"}'] == 2
    assert samples['fail2ban_banned{jail="recidive"}'] == 2
    assert samples['fail2ban_failed_total{jail="recidive"}'] == 3
    assert samples['fail2ban_banned_total{jail="openclaw-auth"}'] == 5
    assert samples['fail2ban_banned{jail="openclaw-auth"}'] == 1
    assert samples['fail2ban_failed{jail="openclaw-auth"}'] == 4
    assert samples['fail2ban_failed_total{jail="openclaw-auth"}'] == 17
    assert "# TYPE fail2ban_banned_total counter" in text
    # Only the finished file is left in the directory (written aside, then renamed).
    assert [p.name for p in (tmp_path / "textfile").iterdir()] == ["fail2ban.prom"]
    assert (tmp_path / "textfile" / "fail2ban.prom").stat().st_mode & 0o777 == 0o644
    if shutil.which("promtool"):
        check = subprocess.run(
            ["promtool", "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize(
    ("answers", "rc", "reason"),
    [
        ({"": STATUS, **JAILS}, 255, "did not answer"),  # e.g. the server is down
        ({"": "ERROR  Failed to access socket path\n"}, 0, "Jail list"),
        ({"": STATUS, "recidive": "Status for the jail: recidive\n", **{}}, 0, "lacks"),
    ],
    ids=["client-fails", "no-jail-list", "jail-without-counters"],
)
def test_a_client_that_does_not_answer_yields_fail2ban_up_0(tmp_path, answers, rc, reason):
    proc, text = _run(tmp_path, _client(tmp_path, answers, rc))
    assert proc.returncode == 1
    assert reason in proc.stderr
    samples = _samples(text)
    assert samples["fail2ban_up"] == 0
    assert not any(name.startswith("fail2ban_banned") for name in samples)


def test_the_parsers_read_fail2ban_s_layout():
    spec = importlib.util.spec_from_file_location("f2bm", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.parse_jails(STATUS) == ["recidive", "openclaw-auth"]
    assert module.parse_jails("Status\n|- Number of jail:\t0\n`- Jail list:\t\n") == []
    assert module.parse_jail(JAILS["openclaw-auth"]) == {
        "failed": 4,
        "failed_total": 17,
        "banned": 1,
        "banned_total": 5,
    }

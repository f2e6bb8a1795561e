#!/usr/bin/python3
"""fail2ban's jails as metrics for the node exporter's textfile collector.

fail2ban has no exporter of its own. This script, run by a systemd timer
(openclaw_monitoring), asks ``fail2ban-client status`` for the jails and
``fail2ban-client status <jail>`` for each one's counters, and writes them in
the Prometheus text format to ``<textfile dir>/fail2ban.prom`` (a temporary
file renamed into place, so the node exporter never reads half a file):

- ``fail2ban_up``: 1 if the server answered, else 0 (and no jail series);
- ``fail2ban_banned_total{jail}``: addresses banned since fail2ban started
  (a counter: it restarts at 0 with fail2ban, which ``increase()`` handles);
- ``fail2ban_banned{jail}``: addresses banned now;
- ``fail2ban_failed_total{jail}`` and ``fail2ban_failed{jail}``: failures
  matched since the start and now.

Standard library only; it runs on the distribution's Python.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

_JAILS = re.compile(r"Jail list:\s*(.*)$", re.MULTILINE)
_FIELDS = {
    "Currently failed": "failed",
    "Total failed": "failed_total",
    "Currently banned": "banned",
    "Total banned": "banned_total",
}
_FIELD = re.compile(r"^[\s|`-]*(" + "|".join(_FIELDS) + r"):\s*(\d+)\s*$", re.MULTILINE)
_HELP = {
    "banned_total": ("counter", "Addresses the jail banned since fail2ban started."),
    "banned": ("gauge", "Addresses the jail bans now."),
    "failed_total": ("counter", "Failures the jail's filter matched since fail2ban started."),
    "failed": ("gauge", "Failures the jail's filter holds now (within findtime)."),
}


def parse_jails(text: str) -> list[str]:
    """The jail names of ``fail2ban-client status``."""
    match = _JAILS.search(text)
    if not match:
        raise ValueError(f"no 'Jail list:' in fail2ban-client status: {text[:200]!r}")
    return [name.strip() for name in match[1].split(",") if name.strip()]


def parse_jail(text: str) -> dict[str, int]:
    """The counters of ``fail2ban-client status <jail>``."""
    found = {_FIELDS[m[1]]: int(m[2]) for m in _FIELD.finditer(text)}
    missing = set(_FIELDS.values()) - set(found)
    if missing:
        raise ValueError(f"fail2ban-client jail status lacks {sorted(missing)}: {text[:300]!r}")
    return found


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(jails: dict[str, dict[str, int]] | None, now: float) -> str:
    """The text format: ``jails`` None means fail2ban did not answer."""
    lines = [
        "# HELP fail2ban_up 1 if fail2ban-client answered the collector.",
        "# TYPE fail2ban_up gauge",
        f"fail2ban_up {0 if jails is None else 1}",
    ]
    for name, (kind, text) in _HELP.items():
        if not jails:
            break
        lines += [f"# HELP fail2ban_{name} {text}", f"# TYPE fail2ban_{name} {kind}"]
        lines += [
            f'fail2ban_{name}{{jail="{_label(j)}"}} {c[name]}' for j, c in sorted(jails.items())
        ]
    lines += [
        "# HELP fail2ban_collector_last_run_timestamp_seconds When the collector last ran.",
        "# TYPE fail2ban_collector_last_run_timestamp_seconds gauge",
        f"fail2ban_collector_last_run_timestamp_seconds {now:.3f}",
    ]
    return "\n".join(lines) + "\n"


def collect(client: str, timeout: float) -> dict[str, dict[str, int]] | None:
    """Every jail's counters, or None when fail2ban does not answer."""

    def status(*jail: str) -> str:
        return subprocess.run(
            [client, "status", *jail], check=True, capture_output=True, text=True, timeout=timeout
        ).stdout

    try:
        return {jail: parse_jail(status(jail)) for jail in parse_jails(status())}
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"fail2ban-client did not answer: {exc}", file=sys.stderr)
        return None


def write(path: str, text: str) -> None:
    """Replace ``path`` atomically, readable by the node exporter (0644)."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".fail2ban.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="the .prom file in the textfile directory")
    parser.add_argument("--client", default="fail2ban-client", help="fail2ban-client to run")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per client call")
    args = parser.parse_args(argv)
    try:
        jails = collect(args.client, args.timeout)
    except ValueError as exc:  # an answer we cannot read: say so, publish fail2ban_up 0
        print(f"cannot read fail2ban-client's answer: {exc}", file=sys.stderr)
        jails = None
    write(args.output, render(jails, time.time()))
    return 0 if jails is not None else 1


if __name__ == "__main__":
    sys.exit(main())

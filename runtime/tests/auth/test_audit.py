"""The audit trail: line format (the fail2ban contract), no secrets, reopen after rotation."""

from __future__ import annotations

import json
import os

from openclaw_runtime.auth import AuditLog


def test_line_starts_with_ts_event_client(tmp_path):
    path = tmp_path / "audit.log"
    log = AuditLog(str(path))
    log.emit("auth.failed", client="192.0.2.1", reason="invalid_key", path='/x","client":"1')
    line = path.read_text()
    assert line.startswith('{"ts":"') and line.endswith("\n")
    assert '","event":"auth.failed","client":"192.0.2.1",' in line
    assert json.loads(line)["path"] == '/x","client":"1'  # escaped, cannot fake a field


def test_reopen_after_logrotate_moved_the_file(tmp_path):
    path = tmp_path / "audit.log"
    log = AuditLog(str(path))
    log.emit("one")
    os.rename(path, tmp_path / "audit.log.1")
    log.reopen()
    log.emit("two")
    assert json.loads(path.read_text())["event"] == "two"
    assert json.loads((tmp_path / "audit.log.1").read_text())["event"] == "one"


def test_empty_target_drops_events(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    AuditLog("-").emit("to-stderr", client="192.0.2.1")
    assert '"event":"to-stderr","client":"192.0.2.1"' in capsys.readouterr().err
    AuditLog("").emit("dropped", client="192.0.2.1")
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")
    assert list(tmp_path.iterdir()) == []  # and no file was created for it

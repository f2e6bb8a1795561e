"""The audit trail: one JSON object a line, in a file of its own or on a stream.

Every line starts with ``{"ts":"<ISO 8601 UTC>","event":"<name>"`` and, for
request events, ``"client":"<address>"`` right after (``auth.denied`` then
``"key_id"`` and ``"reason"``), in that order: the fail2ban filter shipped in
``runtime/fail2ban/openclaw-auth.conf`` relies on it. The client of an
``auth.*`` line is never a trusted proxy (that would ban the proxy): the
authenticator writes ``"unknown"`` then. Keys never appear here; only key ids
of records that exist.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from datetime import UTC, datetime
from typing import Any

__all__ = ["AUTH_FAILED", "AuditLog"]

AUTH_FAILED = "auth.failed"

_log = logging.getLogger("openclaw_runtime.audit")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog:
    """Appends audit events to a file (``O_APPEND``, one ``write`` a line) or a stream.

    ``target`` is a path, ``"-"`` for standard error, or ``""`` to drop events.
    Several worker processes may append to the same file: each line is written
    with a single system call, so lines never interleave.
    """

    def __init__(self, target: str = "-") -> None:
        self.target = target
        self._fd: int | None = None
        self._lock = threading.Lock()
        if target and target != "-":
            self._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def emit(self, event: str, *, client: str | None = None, **fields: Any) -> None:
        """Write one event; ``client`` goes right after the event name when given."""
        if not self.target:
            return
        record: dict[str, Any] = {"ts": _now(), "event": event}
        if client is not None:
            record["client"] = client
        record.update((k, v) for k, v in fields.items() if v is not None)
        line = json.dumps(record, separators=(",", ":"), default=str, ensure_ascii=True) + "\n"
        try:
            if self._fd is not None:
                os.write(self._fd, line.encode())
            else:
                with self._lock:
                    sys.stderr.write(line)
                    sys.stderr.flush()
        except OSError as exc:  # a full disk must not fail requests
            _log.error("cannot write the audit log %s: %s", self.target, exc)

    def reopen(self) -> None:
        """Reopen the file (after logrotate moved it away; the server does it on SIGHUP)."""
        if self._fd is None:
            return
        fd = os.open(self.target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        old, self._fd = self._fd, fd
        os.close(old)

    def close(self) -> None:
        """Close the file, if any."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

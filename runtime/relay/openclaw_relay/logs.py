"""One JSON object a line on stderr (journald keeps it); URLs and secrets are never logged."""

from __future__ import annotations

import json
import logging
import sys

__all__ = ["setup_logging"]

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        doc.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            doc["traceback"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


def setup_logging(level: int = logging.INFO) -> None:
    """Send the relay's logs to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger("openclaw_relay")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False

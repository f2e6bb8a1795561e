"""Repository actions shared between worker processes.

An explicit load or unload (repository extension) reaches one worker; it writes
``<control dir>/<model>.json`` (``action``, ``seq``, ``origin`` pid) and every
other worker applies the newest action on its next control scan, so all
workers converge on the same models. The supervisor creates the directory and
passes it in ``OPENCLAW_CONTROL_DIR``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["CONTROL_ENV", "read_actions", "write_action"]

CONTROL_ENV = "OPENCLAW_CONTROL_DIR"


def write_action(directory: str | os.PathLike[str], model: str, action: str) -> int:
    """Record ``action`` ("load" or "unload") for ``model``; return its sequence number."""
    seq = time.time_ns()
    path = Path(directory) / f"{model}.json"
    tmp = path.with_name(f".{model}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"action": action, "seq": seq, "origin": os.getpid()}))
    os.replace(tmp, path)
    return seq


def read_actions(directory: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Return the newest recorded action per model."""
    out: dict[str, dict[str, Any]] = {}
    try:
        entries = list(Path(directory).glob("*.json"))
    except OSError:
        return out
    for path in entries:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # replaced while reading; the next scan sees it
        if isinstance(doc, dict) and doc.get("action") in ("load", "unload"):
            out[path.stem] = doc
    return out

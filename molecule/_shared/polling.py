"""Polling for verify tests: wait for a condition the host reaches asynchronously
(a ban after failed logins, a jail's log line), never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["wait_for"]


def wait_for(predicate: Callable[[], bool], timeout: float = 45.0) -> bool:
    """Call ``predicate`` every second until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(1)
    return predicate()

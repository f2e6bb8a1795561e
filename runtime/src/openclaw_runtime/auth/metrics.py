"""Prometheus family of refused requests (successes are not counted: no cost on the hot path)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache

from prometheus_client import Counter, Gauge

from .keys import KeyRecord, KeyState

__all__ = ["AuthMetrics", "auth_metrics"]


class AuthMetrics:
    """Requests refused by auth, by reason (for brute-force and misconfiguration alerts)."""

    def __init__(self) -> None:
        self.refused = Counter(
            "openclaw_auth_refused", "Requests refused by auth (401, 403, 429)", ("reason",)
        )
        self.unauthorized = self.refused.labels("unauthorized")
        self.forbidden = self.refused.labels("forbidden")
        self.rate_limited = self.refused.labels("rate_limited")
        # What counts towards an address's block: 401s with or without a key, and 403s for
        # a valid key used from an address its allow-list does not contain.
        self.failures = Counter(
            "openclaw_auth_failures",
            "Failed authentications counted towards the per-address block, by reason",
            ("reason",),
        )
        # When each active key expires (Unix time): the key-expiry alert subtracts time().
        # Rotating (grace ends by design), revoked and removed keys read 0.
        kwargs = (
            {"multiprocess_mode": "livemax"} if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else {}
        )
        self.key_expiry = Gauge(
            "openclaw_auth_key_expiry_timestamp_seconds",
            "When the active API key expires (Unix time); 0 once rotating, revoked or removed",
            ("key_id",),
            **kwargs,
        )
        self._key_ids: set[str] = set()

    def set_key_expiry(self, records: Iterable[KeyRecord]) -> None:
        """Publish the expiry of every active key of the store; zero the others."""
        active = {r.id: r.expires.timestamp() for r in records if r.state is KeyState.ACTIVE}
        for key_id in self._key_ids - active.keys():
            self.key_expiry.labels(key_id).set(0)
        for key_id, expires in active.items():
            self.key_expiry.labels(key_id).set(expires)
        self._key_ids |= active.keys()


@cache
def auth_metrics() -> AuthMetrics:
    """Return the process-wide auth metrics (registered once)."""
    return AuthMetrics()

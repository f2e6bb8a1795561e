"""Prometheus family of refused requests (successes are not counted: no cost on the hot path)."""

from __future__ import annotations

from functools import cache

from prometheus_client import Counter

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


@cache
def auth_metrics() -> AuthMetrics:
    """Return the process-wide auth metrics (registered once)."""
    return AuthMetrics()

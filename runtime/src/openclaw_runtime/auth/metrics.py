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


@cache
def auth_metrics() -> AuthMetrics:
    """Return the process-wide auth metrics (registered once)."""
    return AuthMetrics()

"""The relay's own Prometheus metrics, in a registry of its own (one per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["RelayMetrics"]


class RelayMetrics:
    """Notifications by channel and outcome, attempts by result, delivery time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.notifications = Counter(
            "openclaw_relay_notifications",
            "Alertmanager notifications relayed, by channel, status and outcome",
            ("channel", "status", "outcome"),
            registry=self.registry,
        )
        self.attempts = Counter(
            "openclaw_relay_attempts",
            "Calls to the robot APIs, by channel and result (ok, retry, error)",
            ("channel", "result"),
            registry=self.registry,
        )
        self.seconds = Histogram(
            "openclaw_relay_delivery_duration_seconds",
            "Time to deliver one notification, retries included",
            ("channel",),
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)

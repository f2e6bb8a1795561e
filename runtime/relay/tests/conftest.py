"""Shared fixtures: Alertmanager-shaped payloads."""

from __future__ import annotations

import pytest


def alert(status: str = "firing", **labels) -> dict:
    return {
        "status": status,
        "labels": {
            "alertname": "OpenClawHostCpuHigh",
            "severity": "critical",
            "instance": "h1:9100",
            **labels,
        },
        "annotations": {
            "summary": "OpenClawHostCpuHigh (critical): h1:9100",
            "description": "CPU use on h1 is 91.0 % (threshold 85% for 5m).",
            "runbook_url": "https://example.org/README.md#openclawhostcpuhigh",
        },
        "startsAt": "2026-12-04T19:00:00Z",
        "endsAt": "2026-12-04T19:10:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": "abc",
    }


@pytest.fixture
def payload() -> dict:
    """A firing Alertmanager webhook payload (version 4) with one alert."""
    return {
        "version": "4",
        "groupKey": '{}/{severity="critical"}:{alertname="OpenClawHostCpuHigh"}',
        "status": "firing",
        "receiver": "critical",
        "groupLabels": {"alertname": "OpenClawHostCpuHigh"},
        "commonLabels": {"alertname": "OpenClawHostCpuHigh", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [alert()],
    }

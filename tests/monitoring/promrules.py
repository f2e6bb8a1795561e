"""Build `promtool test rules` cases for the rendered alert rules.

For each alert the builder knows which input series make its expression
evaluate to a chosen value; the expected annotations are the rule's own
annotation templates expanded with the few Prometheus template functions
our rules use, so a label the template names but the alert lacks fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FUNC = re.compile(r"\{\{\s*\$(labels\.(\w+)|value)\s*(?:\|\s*([^}]*?))?\s*\}\}")


def minutes(duration: str) -> int:
    """A Prometheus duration of whole minutes ("90s" is not one) as an int."""
    match = re.fullmatch(r"(\d+)([smh])", str(duration))
    assert match, f"unsupported duration {duration!r}"
    n, unit = int(match[1]), match[2]
    seconds = n * {"s": 1, "m": 60, "h": 3600}[unit]
    assert seconds % 60 == 0, f"{duration}: tests evaluate once a minute, use whole minutes"
    return seconds // 60


def _go_float(value: float) -> str:
    # Go's %v of a float64 for the integral values we use.
    return str(int(value)) if float(value).is_integer() else repr(value)


def _humanize_duration(v: float) -> str:
    if v >= 1:
        return f"{v:.4g}s"
    prefix = ""
    for p in ("m", "u", "n", "p"):
        if v >= 1:
            break
        prefix, v = p, v * 1000
    return f"{v:.4g}{prefix}s"


def expand(template: str, labels: dict[str, str], value: float) -> str:
    """Expand our annotation templates like Prometheus does."""

    def one(match: re.Match) -> str:
        if match[2]:
            return labels[match[2]]
        func = (match[3] or "").strip()
        if not func:
            return _go_float(value)
        if printf := re.fullmatch(r'printf\s+"(%\.\d+f)"', func):
            return printf[1] % value
        if func == "humanizeDuration":
            return _humanize_duration(value)
        if func == "humanizePercentage":
            return f"{value * 100:.4g}%"
        raise AssertionError(f"template function {func!r} is not known to the test")

    return _FUNC.sub(one, template)


@dataclass
class Case:
    """Input series for one alert at one value, the labels of the alert it raises,
    and the minute from which its expression has a result (1 for rate())."""

    series: list[dict]
    labels: dict[str, str]
    active_from: int


def _counter(name: str, labels: dict[str, str], per_minute: float, n: int) -> dict:
    body = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{body}}}", "values": f"0+{per_minute!r}x{n}"}


def _gauge(name: str, labels: dict[str, str], value: float, n: int) -> dict:
    body = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{body}}}", "values": f"{value!r}+0x{n}"}


NODE = {"instance": "h1:9100", "host": "h1"}
REPLICA = {"instance": "h1:8001", "host": "h1"}
MODEL = {**REPLICA, "model": "digits", "version": "1"}


def _warmed(name: str, labels: dict[str, str], idle: float, per_minute: float, window: int, n: int):
    # rate() over a window is exact only once the window is full of samples and
    # overestimates nothing only if the counter grew before: ``window`` minutes at
    # ``idle`` a minute first, then ``per_minute``; the value is reached at 2 * window.
    body = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    start = idle * window
    return {
        "series": f"{name}{{{body}}}",
        "values": f"0+{idle!r}x{window - 1} {start!r}+{per_minute!r}x{n}",
    }


def cpu(v: float, n: int, window: int = 5) -> Case:
    idle = 60 * (1 - v / 100)  # idle seconds a minute on one CPU
    labels = {**NODE, "cpu": "0", "mode": "idle"}
    return Case(
        [_warmed("node_cpu_seconds_total", labels, 60.0, idle, window, n)], NODE, 2 * window
    )


def memory(v: float, n: int) -> Case:
    return Case(
        [
            _gauge("node_memory_MemTotal_bytes", NODE, 1000.0, n),
            _gauge("node_memory_MemAvailable_bytes", NODE, 1000 * (1 - v / 100), n),
        ],
        NODE,
        0,
    )


def latency_p99(v: float, n: int) -> Case:
    # 197 of 200 requests a minute at or under v/2, the rest under 2v: rank 198 of
    # 200 interpolates to v/2 + (2v - v/2) * (198 - 197) / 3 = v.
    name = "openclaw_request_duration_seconds_bucket"
    return Case(
        [
            _counter(name, {**MODEL, "le": repr(v / 2)}, 197.0, n),
            _counter(name, {**MODEL, "le": repr(2 * v)}, 200.0, n),
            _counter(name, {**MODEL, "le": "+Inf"}, 200.0, n),
        ],
        REPLICA,
        1,
    )


def error_ratio(v: float, n: int) -> Case:
    name = "openclaw_inference_requests_total"
    return Case(
        [
            _counter(name, {**MODEL, "outcome": "failure"}, 100000 * v, n),
            _counter(name, {**MODEL, "outcome": "success"}, 100000 * (1 - v), n),
        ],
        REPLICA,
        1,
    )


def up(job: str, instance: str):
    def build(v: float, n: int) -> Case:
        labels = {"job": job, "instance": instance, "host": "h1"}
        return Case([_gauge("up", labels, v, n)], labels, 0)

    return build


def queue_depth(v: float, n: int) -> Case:
    return Case([_gauge("openclaw_queue_depth", MODEL, v, n)], MODEL, 0)


def redis_up(v: float, n: int) -> Case:
    return Case([_gauge("openclaw_cache_redis_up", REPLICA, v, n)], REPLICA, 0)


def auth_failures(per_minute: float, n: int, window: int = 5) -> Case:
    labels = {**REPLICA, "reason": "unknown_key"}
    series = _warmed("openclaw_auth_failures_total", labels, 0.0, per_minute, window, n)
    return Case([series], {"host": "h1"}, 2 * window)


def fail2ban_bans(bans: float, n: int) -> Case:
    """``bans`` addresses banned at once at minute 1 (a burst), counted by the node
    exporter's textfile collector; increase() over a window holding the jump and a
    sample before it is exactly ``bans`` until the jump leaves the window."""
    labels = {**NODE, "job": "node", "jail": "sshd"}
    body = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    series = {"series": f"fail2ban_banned_total{{{body}}}", "values": f"0 {bans!r}+0x{n}"}
    return Case([series], {"host": "h1"}, 1)


def lb_servers(backend: str):
    def build(v: float, n: int) -> Case:
        labels = {"instance": "lb1:8404", "host": "lb1", "proxy": backend}
        return Case([_gauge("haproxy_backend_active_servers", labels, v, n)], labels, 0)

    return build


def model_failed(reason: str, by_reason: bool):
    """openclaw_model_load_failed of digits 1 with ``reason``; the alert keeps the reason
    label only when its expression aggregates by it."""

    def build(v: float, n: int) -> Case:
        labels = {**MODEL, "reason": reason}
        series = [_gauge("openclaw_model_load_failed", labels, v, n)]
        return Case(series, labels if by_reason else MODEL, 0)

    return build


def key_expiry(days: float, n: int) -> Case:
    """An active key that expires ``days`` after time 0, and a revoked one (0) that must
    never alert. The alert's value drifts by a minute a minute (1/1440 of a day)."""
    labels = {**REPLICA, "key_id": "k1"}
    return Case(
        [
            _gauge("openclaw_auth_key_expiry_timestamp_seconds", labels, days * 86400, n),
            _gauge(
                "openclaw_auth_key_expiry_timestamp_seconds", {**REPLICA, "key_id": "k0"}, 0.0, n
            ),
        ],
        labels,
        0,
    )

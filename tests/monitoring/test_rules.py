"""`promtool test rules` against the alert rules as the role renders them.

Each alert must fire at its threshold once its `for:` has passed, still be
pending just before that, and stay silent just below the threshold; the
guide's alerts are checked at both severities. The same cases run against
the rules rendered with the role's defaults and with every knob changed, so
a changed variable is tested too; a last test proves the cases notice a
threshold that is not the one they were built for.
"""

from __future__ import annotations

import functools
import math
import subprocess

import promrules as pr
import pytest
import yaml
from render import ROLE, render

pytestmark = pytest.mark.skipif(
    subprocess.run(["sh", "-c", "command -v promtool"], check=False, capture_output=True).returncode
    != 0,
    reason="promtool missing: make bootstrap installs prometheus (requirements/apt.txt)",
)

INVENTORY = {
    "all": {
        "children": {
            "monitoring": {"hosts": {"mon": {}}},
            "openclaw": {
                "hosts": {
                    "h1": {"openclaw_runtime_replicas": 2},
                    "h2": {"openclaw_runtime_replicas": 3},
                }
            },
        }
    }
}
CHANGED = {
    "openclaw_monitoring_alert_cpu_critical": 90,
    "openclaw_monitoring_alert_cpu_warning": 75,
    "openclaw_monitoring_alert_memory_critical": 95,
    "openclaw_monitoring_alert_memory_warning": 85,
    "openclaw_monitoring_alert_latency_p99_critical": 0.8,
    "openclaw_monitoring_alert_latency_p99_warning": 0.3,
    "openclaw_monitoring_alert_error_ratio_critical": 0.02,
    "openclaw_monitoring_alert_error_ratio_warning": 0.005,
    "openclaw_monitoring_alert_critical_for": "3m",
    "openclaw_monitoring_alert_warning_for": "7m",
    "openclaw_monitoring_alert_down_for": "2m",
    "openclaw_monitoring_alert_queue_max_size": 100,
    "openclaw_monitoring_alert_queue_ratio": 0.5,
    "openclaw_monitoring_alert_auth_failures_per_minute": 10,
    "openclaw_monitoring_alert_redis_down_for": "4m",
    "openclaw_monitoring_loadbalancer_expected_servers": 3,
    "openclaw_monitoring_loadbalancer_backend": "be_runtime",
    "openclaw_monitoring_alert_model_failed_for": "2m",
    "openclaw_monitoring_alert_key_expiry_days": 30,
    "openclaw_monitoring_alert_fail2ban_bans": 4,
    "openclaw_monitoring_alert_fail2ban_window": "20m",
    "openclaw_monitoring_alert_fail2ban_for": "3m",
}
# (alert, knob, series builder, value just above a threshold, value just below)
GUIDE = [
    ("OpenClawHostCpuHigh", "cpu", pr.cpu, lambda t: t + 0.5, lambda t: t - 0.5),
    ("OpenClawHostMemoryHigh", "memory", pr.memory, lambda t: t + 0.5, lambda t: t - 0.5),
    (
        "OpenClawLatencyP99High",
        "latency_p99",
        pr.latency_p99,
        lambda t: t * 1.01,
        lambda t: t * 0.99,
    ),
    (
        "OpenClawErrorRateHigh",
        "error_ratio",
        pr.error_ratio,
        lambda t: t * 1.01,
        lambda t: t * 0.99,
    ),
]


def knobs(overrides: dict) -> dict:
    """The role's defaults with ``overrides`` applied, without the prefix."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    merged = {**defaults, **overrides}
    return {k.removeprefix("openclaw_monitoring_"): v for k, v in merged.items()}


def _rules(path) -> dict[tuple[str, str], dict]:
    doc = yaml.safe_load(path.read_text())
    return {
        (rule["alert"], rule["labels"]["severity"]): rule
        for group in doc["groups"]
        for rule in group["rules"]
    }


def _expected(rule: dict, case: pr.Case, value: float) -> dict:
    return {
        "exp_labels": {**case.labels, **rule["labels"]},
        "exp_annotations": {
            k: pr.expand(v, case.labels, value) for k, v in rule["annotations"].items()
        },
    }


def _group(alert: str, case: pr.Case, checks: list[tuple[int, list[dict]]]) -> dict:
    return {
        "interval": "1m",
        "input_series": case.series,
        "alert_rule_test": [
            {"eval_time": f"{t}m", "alertname": alert, "exp_alerts": exp} for t, exp in checks
        ],
    }


def _guide_cases(k: dict, rules: dict) -> list[dict]:
    window = pr.minutes(k["alert_rate_window"])
    groups = []
    for alert, knob, builder, above, below in GUIDE:
        build = functools.partial(builder, window=window) if builder is pr.cpu else builder
        levels = {
            sev: (k[f"alert_{knob}_{sev}"], pr.minutes(k[f"alert_{sev}_for"]))
            for sev in ("critical", "warning")
        }
        values = [f(t) for t, _ in levels.values() for f in (above, below)]
        times = sorted({f + d for _, f in levels.values() for d in (-1, 1)} | {0})
        n = max(times) + 2 * window + 10
        for value in values:
            case = build(value, n)
            checks = []
            for t in times:
                firing = [
                    _expected(rules[(alert, sev)], case, value)
                    for sev, (threshold, hold) in levels.items()
                    if value > threshold and t >= hold
                ]
                checks.append((t + case.active_from, firing))
            groups.append(_group(alert, case, checks))
    return groups


def _runtime_cases(k: dict, rules: dict, lb_expected: int) -> list[dict]:
    queue = math.floor(k["alert_queue_max_size"] * k["alert_queue_ratio"])
    auth = k["alert_auth_failures_per_minute"]
    bans = k["alert_fail2ban_bans"]
    # The burst must stay inside the ban window until the last check (for: + 5 minutes).
    assert pr.minutes(k["alert_fail2ban_for"]) + 6 <= pr.minutes(k["alert_fail2ban_window"])
    days = k["alert_key_expiry_days"]
    down = pr.minutes(k["alert_down_for"])
    # (alert, builder, firing value, quiet value, for in minutes)
    window = pr.minutes(k["alert_rate_window"])
    table = [
        ("OpenClawReplicaDown", pr.up("openclaw-runtime", "h1:8001"), 0, 1, down),
        ("OpenClawExporterDown", pr.up("node", "h1:9100"), 0, 1, down),
        ("OpenClawBatchQueueNearFull", pr.queue_depth, queue + 1, queue, 1),
        ("OpenClawCacheRedisDown", pr.redis_up, 0, 1, pr.minutes(k["alert_redis_down_for"])),
        (
            "OpenClawAuthFailureSpike",
            functools.partial(pr.auth_failures, window=window),
            auth + 1,
            auth - 1,
            2,
        ),
        (
            "OpenClawFail2banBanSpike",
            pr.fail2ban_bans,
            bans + 1,
            bans,
            pr.minutes(k["alert_fail2ban_for"]),
        ),
        (
            "OpenClawModelVersionRefused",
            pr.model_failed("checksum_mismatch", by_reason=False),
            1,
            0,
            pr.minutes(k["alert_model_failed_for"]),
        ),
        (
            "OpenClawModelLoadFailed",
            pr.model_failed("model_incompatible", by_reason=True),
            1,
            0,
            pr.minutes(k["alert_model_failed_for"]),
        ),
        # A key expiring a day inside the window fires; one a tenth of a day outside does not.
        ("OpenClawApiKeyExpiring", pr.key_expiry, days - 1, days + 0.1, down),
        (
            "OpenClawLoadBalancerBackendsMissing",
            pr.lb_servers(k["loadbalancer_backend"]),
            lb_expected - 1,
            lb_expected,
            down,
        ),
    ]
    groups = []
    for alert, build, fire, quiet, hold in table:
        (rule,) = [r for (name, _), r in rules.items() if name == alert]
        n = hold + 2 * window + 12
        case = build(fire, n)
        start = case.active_from
        groups.append(
            _group(
                alert,
                case,
                [
                    (start + hold - 1, []),  # pending: for: not yet over
                    (start + hold + 1, [_expected(rule, case, fire)]),
                ],
            )
        )
        groups.append(_group(alert, build(quiet, n), [(start + hold + 5, [])]))
    return groups


def _promtool(tmp_path, rules_file, groups: list[dict]) -> subprocess.CompletedProcess:
    test = tmp_path / "alerts.test.yml"
    test.write_text(
        yaml.safe_dump(
            {"rule_files": [str(rules_file)], "evaluation_interval": "1m", "tests": groups}
        )
    )
    return subprocess.run(
        ["promtool", "test", "rules", str(test)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _cases(overrides: dict, rules_file, lb_expected: int) -> list[dict]:
    k, rules = knobs(overrides), _rules(rules_file)
    if overrides.get("openclaw_monitoring_loadbalancer_expected_servers"):
        lb_expected = overrides["openclaw_monitoring_loadbalancer_expected_servers"]
    return _guide_cases(k, rules) + _runtime_cases(k, rules, lb_expected)


@pytest.mark.parametrize("overrides", [{}, CHANGED], ids=["defaults", "changed-variables"])
def test_each_alert_fires_at_its_threshold_after_its_for_and_not_below(tmp_path, overrides):
    rules_file = render(tmp_path / "render", ["rules"], overrides, INVENTORY)["rules"]
    check = subprocess.run(
        ["promtool", "check", "rules", str(rules_file)], check=False, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # h1 and h2 of the inventory run 2 + 3 replicas: the backend should have 5 up.
    groups = _cases(overrides, rules_file, lb_expected=5)
    assert len(groups) == 4 * 4 + 10 * 2
    result = _promtool(tmp_path, rules_file, groups)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_the_cases_notice_a_threshold_they_were_not_built_for(tmp_path):
    """Cases built for the defaults fail against rules rendered with other values."""
    rendered = render(tmp_path / "render", ["rules"], CHANGED, INVENTORY)["rules"]
    defaults = render(tmp_path / "defaults", ["rules"], {}, INVENTORY)["rules"]
    groups = _cases({}, defaults, lb_expected=5)
    result = _promtool(tmp_path, rendered, groups)
    assert result.returncode != 0
    report = result.stdout + result.stderr
    for alert in ("OpenClawHostCpuHigh", "OpenClawLatencyP99High", "OpenClawBatchQueueNearFull"):
        assert f"alertname: {alert}" in report, report[-3000:]


def test_every_alert_links_its_troubleshooting_heading(tmp_path):
    """Each rule's runbook_url ends in an anchor the README has a heading for."""
    rules = _rules(render(tmp_path / "render", ["rules"], {}, INVENTORY)["rules"])
    base = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())[
        "openclaw_monitoring_runbook_url"
    ].removesuffix("README.md")
    for (alert, _), rule in rules.items():
        url = rule["annotations"]["runbook_url"]
        assert url.startswith(base) and url.endswith(f"README.md#{alert.lower()}"), url
        readme = ROLE.parents[1] / url.removeprefix(base).split("#")[0]
        headings = {
            line[4:].strip().lower()
            for line in readme.read_text().splitlines()
            if line.startswith("### ")
        }
        assert alert.lower() in headings, f"{readme} has no '### {alert}' heading"
        assert rule["for"], f"{alert} has no for:"

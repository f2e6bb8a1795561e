"""The alert rules name metrics the runtime really exports.

A promtool test feeds the series it names itself, so a rule about a metric
the runtime never exports (a typo, a renamed family) would pass its test and
never fire. This test collects the families the runtime registers (the same
classes its workers instantiate) and checks every ``openclaw_*`` name in the
rendered rules against them, with the sample suffixes Prometheus adds
(counter ``_total``, histogram ``_bucket``/``_sum``/``_count``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml
from render import render
from test_rules import INVENTORY

pytest.importorskip("openclaw_runtime.metrics.prom")
errors = pytest.importorskip("openclaw_runtime.errors")

_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
_NAME = re.compile(r"\b(openclaw_[a-z0-9_]+)\b")


def runtime_sample_names() -> set[str]:
    """Every sample name the runtime's metric families expose.

    A fresh interpreter instantiates the classes the worker does, on the default
    registry (as in a worker), and lists each family with its type.
    """
    out = subprocess.run(
        [sys.executable, "-c", _LIST],
        check=True,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
    ).stdout
    names = set()
    for line in out.splitlines():
        name, kind = line.split()
        names |= {name + s for s in _SUFFIXES.get(kind, ("",))}
    return names


_LIST = """
from prometheus_client import REGISTRY
from openclaw_runtime.auth.metrics import AuthMetrics
from openclaw_runtime.cache.metrics import CacheMetrics
from openclaw_runtime.metrics.prom import Metrics
Metrics(); AuthMetrics(); CacheMetrics()
for family in REGISTRY.collect():
    print(family.name, family.type)
"""


def rule_metric_names(rules_file) -> set[str]:
    doc = yaml.safe_load(rules_file.read_text())
    exprs = [str(r["expr"]) for g in doc["groups"] for r in g["rules"]]
    # Label values ('proxy="openclaw_runtime"') are not metric names.
    return {m for e in exprs for m in _NAME.findall(re.sub(r'"[^"]*"', '""', e))}


def test_every_runtime_metric_the_rules_use_is_exported(tmp_path):
    rules = render(tmp_path, ["rules"], {}, INVENTORY)["rules"]
    used = rule_metric_names(rules)
    exported = runtime_sample_names()
    # The collection worked: the families the rules build on are there.
    assert {"openclaw_request_duration_seconds_bucket", "openclaw_model_load_failed"} <= exported
    assert used, "no openclaw_* metric in the rules"
    missing = sorted(used - exported)
    assert not missing, f"the rules use metrics the runtime does not export: {missing}"


def test_the_manifest_alert_matches_the_runtimes_error_code(tmp_path):
    text = render(tmp_path, ["rules"], {}, INVENTORY)["rules"].read_text()
    assert f'reason="{errors.ChecksumMismatch.code}"' in text
    assert f'reason!="{errors.ChecksumMismatch.code}"' in text


def test_a_misspelt_metric_would_be_caught(tmp_path):
    """The check is not vacuous: a name the runtime lacks shows up as missing."""
    extra = {
        "openclaw_monitoring_extra_rule_groups": [
            {"name": "typo", "rules": [{"alert": "T", "expr": "openclaw_queue_dept > 1"}]}
        ]
    }
    rules = render(tmp_path, ["rules"], extra, INVENTORY)["rules"]
    assert "openclaw_queue_dept" in rule_metric_names(rules) - runtime_sample_names()

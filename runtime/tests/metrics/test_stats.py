"""Merging the statistics of several worker processes."""

from __future__ import annotations

from openclaw_runtime.metrics import ModelStats
from openclaw_runtime.metrics.stats import merge_entries


def _worker(requests: int, batch_rows: int, last_ms: int) -> dict:
    stats = ModelStats("digits", "1")
    for _ in range(requests):
        stats.request_done(True, 1000, 1)
    stats.request_done(False, 50, 1)
    stats.batch_done(batch_rows, [10] * batch_rows, 700)
    stats.last_inference_ms = last_ms
    return stats.to_dict()


def test_merge_sums_counts_and_batch_sizes():
    a, b = _worker(3, 2, 100), _worker(5, 4, 250)
    other = ModelStats("iris", "2").to_dict()
    merged = merge_entries([a, other, b])
    assert [(e["name"], e["version"]) for e in merged] == [("digits", "1"), ("iris", "2")]
    digits = merged[0]
    assert digits["inference_count"] == 8
    assert digits["execution_count"] == 2
    assert digits["last_inference"] == 250
    assert digits["inference_stats"]["success"] == {"count": 8, "ns": 8000}
    assert digits["inference_stats"]["fail"] == {"count": 2, "ns": 100}
    assert digits["inference_stats"]["queue"] == {"count": 6, "ns": 60}
    assert [s["batch_size"] for s in digits["batch_stats"]] == [2, 4]
    assert digits["batch_stats"][1]["compute_infer"] == {"count": 1, "ns": 700}


def test_merge_leaves_its_inputs_alone():
    a, b = _worker(1, 2, 1), _worker(1, 2, 2)
    merge_entries([a, b])
    assert a["inference_stats"]["success"]["count"] == 1
    assert a["batch_stats"][0]["compute_infer"]["count"] == 1

"""Bulk histogram observations give exactly what one-by-one observations give."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from openclaw_runtime.metrics import observe_many

BUCKETS = (0.001, 0.01, 0.1, 1.0)
VALUES = [0.0005, 0.001, 0.002, 0.01, 0.05, 0.5, 1.0, 3.0, 0.0001, 0.07]


def _exposition(fill) -> list[bytes]:
    """Return the exposition lines, without the creation time stamp."""
    registry = CollectorRegistry()
    hist = Histogram("t_seconds", "test", ("model",), buckets=BUCKETS, registry=registry)
    fill(hist.labels("m"))
    return [ln for ln in generate_latest(registry).splitlines() if b"_created" not in ln]


def test_observe_many_equals_observe_one_by_one():
    def one_by_one(child):
        for v in VALUES:
            child.observe(v)

    bulk = _exposition(lambda child: observe_many(child, VALUES))
    single = _exposition(one_by_one)
    assert bulk == single
    assert b't_seconds_bucket{le="0.001",model="m"} 3.0' in bulk
    assert b't_seconds_count{model="m"} 10.0' in bulk


def test_observe_many_of_nothing_writes_nothing():
    assert b't_seconds_count{model="m"} 0.0' in _exposition(lambda c: observe_many(c, []))

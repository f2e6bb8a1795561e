"""Token buckets and the failed-authentication cap, on a fake clock."""

from __future__ import annotations

import pytest

from openclaw_runtime.auth import FailureTracker, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_burst_then_limits_and_refills():
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=5, clock=clock)
    assert [limiter.check("k") for _ in range(5)] == [0.0] * 5
    wait = limiter.check("k")
    assert wait == pytest.approx(0.1)
    clock.now += 0.1
    assert limiter.check("k") == 0.0
    assert limiter.check("other") == 0.0  # buckets are per key


def test_rate_zero_disables():
    limiter = RateLimiter(rate=0, burst=1)
    assert all(limiter.check("k") == 0.0 for _ in range(1000))


def test_tables_stay_bounded():
    limiter = RateLimiter(rate=1, burst=1, max_entries=10)
    for i in range(100):
        limiter.check(i)
    assert len(limiter._buckets) == 10


def test_failures_block_after_cap_within_window():
    clock = Clock()
    tracker = FailureTracker(max_failures=3, window=60, block_seconds=300, clock=clock)
    assert not tracker.record_failure("1.2.3.4")
    assert not tracker.record_failure("1.2.3.4")
    assert tracker.blocked_for("1.2.3.4") == 0
    assert tracker.record_failure("1.2.3.4")
    assert tracker.blocked_for("1.2.3.4") == pytest.approx(300)
    assert tracker.blocked_for("5.6.7.8") == 0
    clock.now += 301
    assert tracker.blocked_for("1.2.3.4") == 0


def test_failures_outside_window_do_not_add_up():
    clock = Clock()
    tracker = FailureTracker(max_failures=3, window=60, block_seconds=300, clock=clock)
    for _ in range(10):
        assert not tracker.record_failure("a")
        assert not tracker.record_failure("a")
        clock.now += 61

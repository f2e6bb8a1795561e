"""Prometheus metrics (prometheus_client), aggregated across worker processes.

Multiprocess mode is on when ``PROMETHEUS_MULTIPROC_DIR`` is set before this
module is imported (the supervisor does it); then ``/metrics`` merges the
files of every worker.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence

import psutil
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _mp

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "observe_many", "render"]

_LATENCY = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
_BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_MULTI = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def _gauge(name: str, doc: str, labels: tuple[str, ...] = (), mode: str = "livesum") -> Gauge:
    kwargs = {"multiprocess_mode": mode} if _MULTI else {}
    return Gauge(name, doc, labels, **kwargs)


class Metrics:
    """The runtime's metric families; one instance per process."""

    def __init__(self) -> None:
        labels = ("model", "version")
        self.requests = Counter(
            "openclaw_inference_requests", "Inference requests by outcome", (*labels, "outcome")
        )
        self.request_seconds = Histogram(
            "openclaw_request_duration_seconds", "Inference request time", labels, buckets=_LATENCY
        )
        self.queue_seconds = Histogram(
            "openclaw_queue_duration_seconds", "Time in the batch queue", labels, buckets=_LATENCY
        )
        self.compute_seconds = Histogram(
            "openclaw_compute_duration_seconds",
            "session.run time per batch",
            labels,
            buckets=_LATENCY,
        )
        self.batch_size = Histogram(
            "openclaw_batch_size", "Rows per executed batch", labels, buckets=_BATCH
        )
        # Sampled, not updated per request (a multiprocess gauge write is a locked mmap
        # update): by set_load, at every scrape and every heartbeat of each worker.
        self.queue_depth = _gauge("openclaw_queue_depth", "Requests waiting for a batch", labels)
        self.in_flight = _gauge(
            "openclaw_requests_in_flight", "Inference requests between decoding and response"
        )
        self.model_loaded = _gauge(
            "openclaw_model_loaded", "1 when the version is loaded", labels, "max"
        )
        self.model_memory = _gauge(
            "openclaw_model_memory_bytes", "Memory accounted to the version", labels
        )
        # 1 while a version's last load failed, by the error's code (checksum_mismatch: refused
        # by its manifest). Set from Changes.failures, cleared by reconcile_failures.
        self.model_load_failed = _gauge(
            "openclaw_model_load_failed",
            "1 while the version's last load failed, by reason (the error code)",
            (*labels, "reason"),
            "livemax",
        )
        self._failed: dict[tuple[str, str], tuple[str, str]] = {}
        self.process_rss = _gauge("openclaw_process_rss_bytes", "Resident memory", ("pid",), "all")
        self.process_cpu = _gauge("openclaw_process_cpu_seconds", "CPU time used", ("pid",), "all")
        self._process = psutil.Process()
        self._children: dict[tuple[str, str], tuple] = {}
        self._depths: dict[tuple[str, str], Gauge] = {}
        # Called by sample_process (each scrape) to refresh sampled gauges such as set_load's.
        self.samplers: list[Callable[[], None]] = []

    def children(self, model: str, version: str) -> tuple:
        """Return the pre-bound series of one model version (labels() is slow on a hot path)."""
        key = (model, version)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = (
                self.requests.labels(model, version, "success"),
                self.requests.labels(model, version, "failure"),
                self.request_seconds.labels(model, version),
                self.queue_seconds.labels(model, version),
                self.compute_seconds.labels(model, version),
                self.batch_size.labels(model, version),
            )
        return found

    def sample_process(self) -> None:
        """Update this process's RSS and CPU gauges, then run the samplers (at scrape time)."""
        pid = str(os.getpid())
        self.process_rss.labels(pid).set(self._process.memory_info().rss)
        times = self._process.cpu_times()
        self.process_cpu.labels(pid).set(times.user + times.system)
        for sampler in self.samplers:
            sampler()

    def set_load(self, in_flight: int, depths: Mapping[tuple[str, str], int]) -> None:
        """Set the in-flight gauge and each version's queue depth (0 for versions now gone)."""
        self.in_flight.set(in_flight)
        for key in [k for k in self._depths if k not in depths]:
            self._depths.pop(key).set(0)
        for key, depth in depths.items():
            gauge = self._depths.get(key)
            if gauge is None:
                gauge = self._depths[key] = self.queue_depth.labels(*key)
            gauge.set(depth)

    def set_model(self, model: str, version: str, loaded: bool, memory: int) -> None:
        """Record a version's load state and memory."""
        self.model_loaded.labels(model, version).set(1 if loaded else 0)
        self.model_memory.labels(model, version).set(memory if loaded else 0)

    def model_failed(self, model: str, version: str, code: str, message: str) -> None:
        """Flag a failed load of ``version`` ('' when the model's config failed) with its code."""
        old = self._failed.get((model, version))
        if old is not None and old[0] != code:
            self.model_load_failed.labels(model, version, old[0]).set(0)
        self._failed[(model, version)] = (code, message)
        self.model_load_failed.labels(model, version, code).set(1)

    @property
    def failures(self) -> dict[tuple[str, str], tuple[str, str]]:
        """Return the flagged failures: (model, version) -> (code, message)."""
        return dict(self._failed)

    def reconcile_failures(self, index: Iterable) -> None:
        """Clear the flags the repository index no longer shows (loaded, unloaded, removed).

        ``index`` holds rows with ``name``, ``version`` and ``reason``; a flag stays while a
        row of its model (of its version, or any version for a config failure) still gives
        the same reason.
        """
        if not self._failed:
            return
        shown = {(row.name, row.version, row.reason) for row in index}
        for (model, version), (code, message) in list(self._failed.items()):
            if version and (model, version, message) in shown:
                continue
            if not version and any(m == model and r == message for m, _v, r in shown):
                continue
            self.model_load_failed.labels(model, version, code).set(0)
            del self._failed[(model, version)]


def observe_many(child, values: Sequence[float]) -> None:
    """Add many observations to a histogram series with one write per bucket touched.

    In multiprocess mode every write is a locked mmap update (about 1 us); a batch of
    32 requests observed one by one cost 33 writes for the sum and buckets alone.
    """
    buckets = getattr(child, "_buckets", None)
    bounds = getattr(child, "_upper_bounds", None)
    if len(values) < 3 or buckets is None or bounds is None:  # or not the layout we know
        for value in values:
            child.observe(value)
        return
    counts: dict[int, int] = {}
    total = 0.0
    for value in values:
        i = bisect_left(bounds, value)  # the first bucket with value <= bound, like observe()
        counts[i] = counts.get(i, 0) + 1
        total += value
    if not counts:
        return
    child._sum.inc(total)
    for i, n in counts.items():
        buckets[i].inc(n)


def render() -> bytes:
    """Return the exposition text of every process (or of this one in single-process mode)."""
    if _MULTI:
        registry = CollectorRegistry()
        _mp.MultiProcessCollector(registry)
        return generate_latest(registry)
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY)

"""``openclaw-model bench``: in-process throughput and latency per batch size, side by side.

Sessions are opened by the runtime's loader (one intra-op thread, as served),
and the versions are measured in alternating rounds within one run, so a
noisy neighbour or a frequency change affects them alike. The ratio reported
is rows/s of each version over rows/s of the ``--against`` version. Batch
sizes above the model's ``max_batch_size`` are measured too (the graph's batch
dimension is dynamic): they show what raising that knob would buy.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..models.modelconfig import load_model_config
from .data import rows, synthetic_inputs
from .layout import REFERENCE_FILE, ModelRef, read_metadata
from .progress import Progress
from .versions import open_version

__all__ = ["BATCH_SIZES", "bench"]

BATCH_SIZES = (1, 8, 32, 128)
ROUNDS = 3


def _inputs(ref: ModelRef, version: int, batch: int) -> dict[str, np.ndarray]:
    path = ref.model_dir / str(version) / REFERENCE_FILE
    if path.exists():
        with np.load(path) as saved:
            base = {k: saved[k] for k in saved.files}
    else:
        base = synthetic_inputs(load_model_config(ref.model_dir), batch)
    reps = -(-batch // rows(base))
    return {k: np.concatenate([v] * reps)[:batch] for k, v in base.items()}


def _measure(loaded, feeds: dict[str, np.ndarray], seconds: float) -> list[float]:
    for _ in range(3):
        loaded.run(feeds)
    samples = []
    deadline = time.perf_counter() + seconds
    while True:
        start = time.perf_counter()
        loaded.run(feeds)
        end = time.perf_counter()
        samples.append(end - start)
        if end >= deadline and len(samples) >= 5:
            return samples


def bench(
    ref: ModelRef,
    progress: Progress,
    *,
    against: int | None = None,
    batch_sizes: tuple[int, ...] = BATCH_SIZES,
    seconds: float = 1.0,
) -> dict[str, Any]:
    """Measure ``ref`` and ``against`` (default: its FP32 parent); return the table."""
    versions = [ref.version]
    if against is None:
        against = read_metadata(ref.version_dir).get("parent_version")
    if against is not None and against != ref.version:
        versions.insert(0, against)
    loaded = {v: open_version(ref.model_dir, v) for v in versions}
    results: list[dict[str, Any]] = []
    for batch in batch_sizes:
        feeds = _inputs(ref, versions[-1], batch)
        samples: dict[int, list[float]] = {v: [] for v in versions}
        for _ in range(ROUNDS):
            for v in versions:
                samples[v] += _measure(loaded[v], feeds, seconds / ROUNDS)
        row: dict[str, Any] = {"batch": batch}
        for v in versions:
            times = np.array(samples[v])
            row[str(v)] = {
                "rows_per_s": round(batch * len(times) / float(times.sum()), 1),
                "p50_ms": round(float(np.percentile(times, 50)) * 1e3, 4),
                "p99_ms": round(float(np.percentile(times, 99)) * 1e3, 4),
                "calls": len(times),
            }
        if len(versions) == 2:
            row["speedup"] = round(
                row[str(ref.version)]["rows_per_s"] / row[str(against)]["rows_per_s"], 2
            )
        results.append(row)
        ratio = f", speed-up {row['speedup']}x" if "speedup" in row else ""
        figures = "; ".join(
            f"v{v} {row[str(v)]['rows_per_s']:.0f} rows/s p50 {row[str(v)]['p50_ms']} ms"
            for v in versions
        )
        progress.step(f"batch {batch}: {figures}{ratio}")
    precision = {
        v: read_metadata(ref.model_dir / str(v)).get("precision", "unknown") for v in versions
    }
    return {
        "model": ref.name,
        "versions": versions,
        "against": against if len(versions) == 2 else None,
        "precision": {str(v): p for v, p in precision.items()},
        "intra_op_threads": 1,
        "seconds_per_point": seconds,
        "results": results,
    }

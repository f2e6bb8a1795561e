"""``openclaw-model bench``: in-process throughput and latency per batch size, side by side.

Sessions are opened by the runtime's loader (one intra-op thread, as served),
and the versions are measured in alternating rounds within one run, so a
noisy neighbour or a frequency change affects them alike. The ratio reported
is rows/s of each version over rows/s of the ``--against`` version. Batch
sizes above the model's ``max_batch_size`` are measured too (the graph's batch
dimension is dynamic): they show what raising that knob would buy.

``rows_per_s`` is batch / median call time: on a shared machine the mean is
dominated by preemption from other processes (``rows_per_s_mean`` keeps it).
``rows_per_cpu_s`` divides by the calling thread's CPU time instead, which
onnxruntime with one intra-op thread spends on that thread: it is the figure
least disturbed by a busy machine, and ``speedup_cpu`` is its ratio.
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


def _measure(loaded, feeds: dict[str, np.ndarray], seconds: float) -> list[tuple[float, float]]:
    """Return (wall, thread CPU) seconds per call; with one intra-op thread onnxruntime
    computes on the calling thread, so the CPU time ignores preemption by other processes."""
    for _ in range(3):
        loaded.run(feeds)
    samples = []
    deadline = time.perf_counter() + seconds
    while True:
        start, cpu = time.perf_counter(), time.thread_time()
        loaded.run(feeds)
        end = time.perf_counter()
        samples.append((end - start, time.thread_time() - cpu))
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
        samples: dict[int, list[tuple[float, float]]] = {v: [] for v in versions}
        for _ in range(ROUNDS):
            for v in versions:
                samples[v] += _measure(loaded[v], feeds, seconds / ROUNDS)
        row: dict[str, Any] = {"batch": batch}
        for v in versions:
            wall = np.array([w for w, _ in samples[v]])
            cpu = np.array([c for _, c in samples[v]])
            row[str(v)] = {
                "rows_per_s": round(batch / float(np.median(wall)), 1),
                "rows_per_s_mean": round(batch * len(wall) / float(wall.sum()), 1),
                "rows_per_cpu_s": round(batch * len(cpu) / max(float(cpu.sum()), 1e-9), 1),
                "p50_ms": round(float(np.percentile(wall, 50)) * 1e3, 4),
                "p99_ms": round(float(np.percentile(wall, 99)) * 1e3, 4),
                "calls": len(wall),
            }
        if len(versions) == 2:
            new_, old_ = row[str(ref.version)], row[str(against)]
            row["speedup"] = round(new_["rows_per_s"] / old_["rows_per_s"], 2)
            row["speedup_cpu"] = round(new_["rows_per_cpu_s"] / old_["rows_per_cpu_s"], 2)
        results.append(row)
        ratio = (
            f", speed-up {row['speedup']}x (CPU {row['speedup_cpu']}x)" if "speedup" in row else ""
        )
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

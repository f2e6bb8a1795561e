"""Per model version statistics in the shape of Triton's statistics extension."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ModelStats"]


@dataclass(slots=True)
class _Duration:
    count: int = 0
    ns: int = 0

    def add(self, ns: int, count: int = 1) -> None:
        self.count += count
        self.ns += ns

    def to_dict(self) -> dict[str, int]:
        return {"count": self.count, "ns": self.ns}


@dataclass(slots=True)
class ModelStats:
    """Counters of one model version in this worker process."""

    name: str
    version: str
    last_inference_ms: int = 0
    inference_count: int = 0
    execution_count: int = 0
    success: _Duration = field(default_factory=_Duration)
    fail: _Duration = field(default_factory=_Duration)
    queue: _Duration = field(default_factory=_Duration)
    compute_input: _Duration = field(default_factory=_Duration)
    compute_infer: _Duration = field(default_factory=_Duration)
    compute_output: _Duration = field(default_factory=_Duration)
    cache_hit: _Duration = field(default_factory=_Duration)
    cache_miss: _Duration = field(default_factory=_Duration)
    batches: dict[int, _Duration] = field(default_factory=dict)

    def request_done(self, ok: bool, ns: int, rows: int) -> None:
        """Record one finished request (rows = batch rows it carried)."""
        if ok:
            self.success.add(ns)
            self.inference_count += rows
        else:
            self.fail.add(ns)
        self.last_inference_ms = int(time.time() * 1000)

    def batch_done(self, rows: int, queue_ns: list[int], compute_ns: int) -> None:
        """Record one executed batch."""
        self.execution_count += 1
        for q in queue_ns:
            self.queue.add(q)
        self.compute_infer.add(compute_ns, len(queue_ns))
        slot = self.batches.get(rows)
        if slot is None:
            slot = self.batches[rows] = _Duration()
        slot.add(compute_ns)

    def to_dict(self) -> dict[str, Any]:
        """Return the Triton ``model_stats`` entry."""
        zero = {"count": 0, "ns": 0}
        return {
            "name": self.name,
            "version": self.version,
            "last_inference": self.last_inference_ms,
            "inference_count": self.inference_count,
            "execution_count": self.execution_count,
            "inference_stats": {
                "success": self.success.to_dict(),
                "fail": self.fail.to_dict(),
                "queue": self.queue.to_dict(),
                "compute_input": self.compute_input.to_dict(),
                "compute_infer": self.compute_infer.to_dict(),
                "compute_output": self.compute_output.to_dict(),
                "cache_hit": self.cache_hit.to_dict(),
                "cache_miss": self.cache_miss.to_dict(),
            },
            "batch_stats": [
                {
                    "batch_size": size,
                    "compute_input": zero,
                    "compute_infer": slot.to_dict(),
                    "compute_output": zero,
                }
                for size, slot in sorted(self.batches.items())
            ],
        }

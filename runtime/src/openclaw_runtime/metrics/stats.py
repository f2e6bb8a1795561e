"""Per model version statistics in the shape of Triton's statistics extension."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ModelStats", "merge_entries"]


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
class _BatchSlot:
    """The three phases of the batches of one size."""

    compute_input: _Duration = field(default_factory=_Duration)
    compute_infer: _Duration = field(default_factory=_Duration)
    compute_output: _Duration = field(default_factory=_Duration)


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
    batches: dict[int, _BatchSlot] = field(default_factory=dict)

    def request_done(self, ok: bool, ns: int, rows: int) -> None:
        """Record one finished request (rows = batch rows it carried)."""
        if ok:
            self.success.add(ns)
            self.inference_count += rows
        else:
            self.fail.add(ns)
        self.last_inference_ms = int(time.time() * 1000)

    def batch_done(
        self, rows: int, queue_ns: list[int], compute_ns: int, input_ns: int = 0, output_ns: int = 0
    ) -> None:
        """Record one executed batch: building its feeds, the run, handing out its outputs."""
        self.execution_count += 1
        requests = len(queue_ns)
        for q in queue_ns:
            self.queue.add(q)
        self.compute_input.add(input_ns, requests)
        self.compute_infer.add(compute_ns, requests)
        self.compute_output.add(output_ns, requests)
        slot = self.batches.get(rows)
        if slot is None:
            slot = self.batches[rows] = _BatchSlot()
        slot.compute_input.add(input_ns)
        slot.compute_infer.add(compute_ns)
        slot.compute_output.add(output_ns)

    def to_dict(self) -> dict[str, Any]:
        """Return the Triton ``model_stats`` entry."""
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
                    "compute_input": slot.compute_input.to_dict(),
                    "compute_infer": slot.compute_infer.to_dict(),
                    "compute_output": slot.compute_output.to_dict(),
                }
                for size, slot in sorted(self.batches.items())
            ],
        }


def _add_pair(into: dict[str, int], other: dict[str, int]) -> None:
    into["count"] = into.get("count", 0) + int(other.get("count", 0))
    into["ns"] = into.get("ns", 0) + int(other.get("ns", 0))


def merge_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sum Triton ``model_stats`` entries of the same model version (one per worker process).

    Counts and nanoseconds add up, ``last_inference`` is the newest, batch statistics
    are merged by batch size. The result is sorted by model name and version.
    """
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        key = (entry["name"], entry["version"])
        into = merged.get(key)
        if into is None:
            into = merged[key] = {
                "name": entry["name"],
                "version": entry["version"],
                "last_inference": 0,
                "inference_count": 0,
                "execution_count": 0,
                "inference_stats": {},
                "batch_stats": [],
            }
        into["last_inference"] = max(into["last_inference"], entry["last_inference"])
        into["inference_count"] += entry["inference_count"]
        into["execution_count"] += entry["execution_count"]
        for kind, pair in entry["inference_stats"].items():
            _add_pair(into["inference_stats"].setdefault(kind, {"count": 0, "ns": 0}), pair)
        sizes = {b["batch_size"]: b for b in into["batch_stats"]}
        for b in entry["batch_stats"]:
            slot = sizes.get(b["batch_size"])
            if slot is None:
                slot = sizes[b["batch_size"]] = {
                    "batch_size": b["batch_size"],
                    "compute_input": {"count": 0, "ns": 0},
                    "compute_infer": {"count": 0, "ns": 0},
                    "compute_output": {"count": 0, "ns": 0},
                }
            for phase in ("compute_input", "compute_infer", "compute_output"):
                _add_pair(slot[phase], b.get(phase, {}))
        into["batch_stats"] = [sizes[k] for k in sorted(sizes)]
    return [merged[k] for k in sorted(merged)]

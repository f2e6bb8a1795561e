"""Load one model version: verify, check, open an onnxruntime session, validate I/O, warm up."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IncompatibleModel, ModelConfigError, ModelLoadError
from ..protocol.datatypes import DATATYPES, ONNX_TO_DATATYPE
from .check import check_model_file, check_model_file_isolated
from .manifest import (
    compute_digests,
    manifest_text,
    read_manifest,
    split_model_level,
    verify_manifest,
)
from .modelconfig import ModelConfig, TensorSpec

__all__ = [
    "MODEL_FILE",
    "LoadedModel",
    "SessionOptions",
    "content_digest",
    "estimate_memory",
    "load_version",
]

MODEL_FILE = "model.onnx"


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """How sessions are opened and verified."""

    intra_op_threads: int = 1
    inter_op_threads: int = 1
    verify_checksums: bool = True
    require_manifest: bool = True
    # Run the ONNX checks in a child process (keeps onnx out of the worker's memory).
    isolate_checks: bool = False
    # For a config.yaml without max_batch_size: the server's batching.max_batch_size.
    default_max_batch_size: int = 32


@dataclass(eq=False)
class LoadedModel:
    """A ready model version: its session, resolved config and bookkeeping.

    ``config`` is resolved: its I/O filled in from the graph and its
    ``max_batch_size`` always set (from the server default when the file has none).
    ``digest`` is the SHA-256 of the version's own manifest lines (every file of
    the version directory, sorted, ``sha256sum`` format): it changes whenever the
    files do, and the result cache keys on it.
    """

    name: str
    version: int
    config: ModelConfig
    session: Any
    output_names: list[str]
    memory_bytes: int
    digest: str
    labels: list[str] | None = None
    last_used: float = field(default_factory=time.monotonic)
    # The Batcher of this version, set by the service layer (batching.attach) before it
    # is published; typed Any so that the model layer does not import the batching one.
    batcher: Any = None

    @property
    def input_specs(self) -> dict[str, TensorSpec]:
        """Return the declared inputs by name (built once)."""
        specs = self.__dict__.get("_input_specs")
        if specs is None:
            specs = self.__dict__["_input_specs"] = {s.name: s for s in self.config.inputs}
        return specs

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run the session on ``feeds`` and return outputs in ``output_names`` order."""
        return self.session.run(self.output_names, feeds)


def _ort_shape(shape: list[Any]) -> list[int]:
    return [d if isinstance(d, int) and d >= 0 else -1 for d in shape]


def _resolve_specs(
    kind: str, declared: tuple[TensorSpec, ...], actual: list[Any], batched: bool, source: str
) -> tuple[TensorSpec, ...]:
    """Check the declared tensors against the graph; fill them from the graph when omitted."""
    graph: dict[str, TensorSpec] = {}
    for node in actual:
        datatype = ONNX_TO_DATATYPE.get(node.type)
        if datatype is None:
            raise ModelConfigError(
                f"{source}: {kind} '{node.name}' has unsupported type {node.type}"
            )
        shape = _ort_shape(list(node.shape))
        if batched:
            if not shape:
                raise ModelConfigError(
                    f"{source}: {kind} '{node.name}' has no batch dimension but max_batch_size > 0"
                )
            shape = shape[1:]
        graph[node.name] = TensorSpec(node.name, datatype, tuple(shape))
    if not declared:
        return tuple(graph.values())
    for spec in declared:
        real = graph.get(spec.name)
        if real is None:
            raise ModelConfigError(
                f"{source}: {kind} '{spec.name}' is not in the model; the model has "
                + ", ".join(sorted(graph))
            )
        if real.datatype != spec.datatype:
            raise ModelConfigError(
                f"{source}: {kind} '{spec.name}': config says {spec.datatype}, "
                f"the model has {real.datatype}"
            )
        if len(real.shape) != len(spec.shape) or any(
            a != b and -1 not in (a, b) for a, b in zip(real.shape, spec.shape, strict=False)
        ):
            raise ModelConfigError(
                f"{source}: {kind} '{spec.name}': config shape {list(spec.shape)} does not match "
                f"the model's {list(real.shape)} (batch dimension excluded)"
            )
    if kind == "input" and {s.name for s in declared} != set(graph):
        missing = sorted(set(graph) - {s.name for s in declared})
        raise ModelConfigError(f"{source}: inputs {missing} of the model are not declared")
    return declared


def _warmup(loaded: LoadedModel) -> None:
    feeds = {}
    for spec in loaded.config.inputs:
        dims = [1 if d == -1 else d for d in spec.shape]
        if loaded.config.batched:
            dims = [1, *dims]
        dtype = DATATYPES[spec.datatype]
        feeds[spec.name] = (
            np.full(dims, b"", dtype=object) if spec.datatype == "BYTES" else np.zeros(dims, dtype)
        )
    loaded.run(feeds)


def _read_labels(model_dir: Path, config: ModelConfig) -> list[str] | None:
    if not config.labels:
        return None
    path = model_dir / config.labels
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ModelConfigError(f"{path}: labels file cannot be read: {exc.strerror}") from exc


def load_version(
    model_dir: str | os.PathLike[str],
    version: int,
    config: ModelConfig,
    options: SessionOptions = SessionOptions(),
) -> LoadedModel:
    """Verify, check, open, validate and warm up ``<model_dir>/<version>``."""
    import onnxruntime as ort

    model_dir = Path(model_dir)
    version_dir = model_dir / str(version)
    path = version_dir / MODEL_FILE
    source = f"{config.name} version {version}"
    if not path.is_file():
        raise ModelLoadError(f"{source}: {path} does not exist")
    if options.verify_checksums:
        verify_manifest(version_dir, required=options.require_manifest)
    # Taken before the session opens: a publisher replaces the model, then its manifest.
    digest = content_digest(version_dir, verified=options.verify_checksums)
    if options.isolate_checks:
        check_model_file_isolated(str(path), source)
    else:
        check_model_file(str(path), source)
    labels = _read_labels(model_dir, config)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = options.intra_op_threads
    opts.inter_op_num_threads = options.inter_op_threads
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads burn the CPU the other worker process needs.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        text = str(exc)
        if "opset" in text.lower() or "ir version" in text.lower():
            raise IncompatibleModel(f"{source}: onnxruntime refused the model: {text}") from exc
        raise ModelLoadError(f"{source}: onnxruntime could not open the model: {text}") from exc
    max_batch = config.max_batch_size
    if max_batch is None:
        max_batch = options.default_max_batch_size
    batched = max_batch > 0
    cfg_source = f"{config.name}/config.yaml"
    inputs = _resolve_specs("input", config.inputs, session.get_inputs(), batched, cfg_source)
    outputs = _resolve_specs("output", config.outputs, session.get_outputs(), batched, cfg_source)
    resolved = dataclasses.replace(config, inputs=inputs, outputs=outputs, max_batch_size=max_batch)
    loaded = LoadedModel(
        name=config.name,
        version=version,
        config=resolved,
        session=session,
        output_names=[o.name for o in outputs],
        memory_bytes=0,
        digest=digest,
        labels=labels,
    )
    if config.warmup:
        try:
            _warmup(loaded)
        except Exception as exc:
            raise ModelLoadError(f"{source}: warm-up inference failed: {exc}") from exc
    loaded.memory_bytes = estimate_memory(path)
    return loaded


def content_digest(version_dir: Path, *, verified: bool) -> str:
    """Return the SHA-256 of the version's own manifest lines (``LoadedModel.digest``).

    A manifest just verified gives it without reading the files again; without
    one (or unverified) every file of the version is hashed, once per load.
    """
    entries = read_manifest(version_dir) if verified else None
    own = split_model_level(entries)[0] if entries is not None else compute_digests(version_dir)
    return hashlib.sha256(manifest_text(own).encode()).hexdigest()


def estimate_memory(path: Path) -> int:
    """Return the bytes a version is accounted for: twice its file (weights + optimized copy).

    A deterministic estimate (not the RSS growth at load time) keeps the budget
    predictable.
    """
    return 2 * path.stat().st_size

"""The per-model ``config.yaml`` schema.

Example::

    platform: onnxruntime_onnx
    max_batch_size: 32          # unset = batching.max_batch_size; 0 = no batch dimension
    inputs:
      - {name: input, datatype: FP32, shape: [64]}      # without the batch dim
    outputs:
      - {name: label, datatype: INT64, shape: []}
      - {name: probabilities, datatype: FP32, shape: [10]}
    version_policy: {latest: 1}  # or {specific: [1, 3]} or {all: true}
    load: startup                # or on_demand (LRU-evicted under memory pressure)
    labels: labels.txt           # optional, one label per line, relative to the model dir
    cache: true                  # false: results are never cached (non-deterministic, sensitive)
    batching: {max_queue_delay_us: 0, max_queue_size: 2048}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .. import _schema
from ..errors import ModelConfigError
from ..protocol.datatypes import DATATYPES

__all__ = [
    "CONFIG_NAME",
    "ModelBatching",
    "ModelConfig",
    "TensorSpec",
    "VersionPolicy",
    "load_model_config",
    "parse_model_config",
]

CONFIG_NAME = "config.yaml"


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One declared input or output; ``shape`` excludes the batch dimension; -1 = any size."""

    name: str
    datatype: str = field(metadata={"choices": tuple(DATATYPES)})
    shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if any(d < -1 for d in self.shape):
            raise ValueError(f"{self.name}: shape dims must be >= -1, got {list(self.shape)}")


@dataclass(frozen=True, slots=True)
class VersionPolicy:
    """Which versions are served: the newest ``latest``, ``specific`` ones, or ``all``."""

    latest: int | None = field(default=None, metadata={"min": 1})
    specific: tuple[int, ...] | None = None
    all: bool = False

    def __post_init__(self) -> None:
        chosen = sum([self.latest is not None, self.specific is not None, self.all])
        if chosen > 1:
            raise ValueError("version_policy: set only one of latest, specific, all")

    def select(self, available: list[int]) -> list[int]:
        """Return the versions (ascending) this policy serves out of ``available``."""
        ordered = sorted(available)
        if self.all:
            return ordered
        if self.specific is not None:
            return [v for v in ordered if v in set(self.specific)]
        return ordered[-(self.latest or 1) :]


@dataclass(frozen=True, slots=True)
class ModelBatching:
    """Per-model overrides of the batching defaults (unset = runtime default)."""

    max_queue_delay_us: int | None = field(default=None, metadata={"min": 0})
    max_queue_size: int | None = field(default=None, metadata={"min": 1})
    default_timeout_us: int | None = field(default=None, metadata={"min": 0})


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """A model's configuration as read from ``<repo>/<model>/config.yaml``."""

    name: str = ""
    platform: Literal["onnxruntime_onnx"] = "onnxruntime_onnx"
    # None: the server's batching.max_batch_size (filled in when a version is loaded).
    max_batch_size: int | None = field(default=None, metadata={"min": 0, "max": 65536})
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    version_policy: VersionPolicy = field(default_factory=VersionPolicy)
    load: Literal["startup", "on_demand"] = "startup"
    labels: str | None = None
    warmup: bool = True
    # False: the result cache never stores or serves this model's results.
    cache: bool = True
    batching: ModelBatching = field(default_factory=ModelBatching)
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def batched(self) -> bool:
        """Return True when inputs and outputs carry a batch dimension first (not 0)."""
        return self.max_batch_size != 0

    def input(self, name: str) -> TensorSpec | None:
        """Return the declared input called ``name``, if any."""
        return next((t for t in self.inputs if t.name == name), None)


def parse_model_config(data: Any, *, name: str, source: str = CONFIG_NAME) -> ModelConfig:
    """Validate plain data as a model config; ``name`` is the model directory's name."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ModelConfigError(f"{source}: top level must be a mapping, got {type(data).__name__}")
    data = dict(data)
    declared = data.get("name")
    if declared not in (None, "", name):
        raise ModelConfigError(f"{source}: name: {declared!r} does not match directory {name!r}")
    data["name"] = name
    return _schema.build(ModelConfig, data, prefix=source, error=ModelConfigError)


def load_model_config(model_dir: str | os.PathLike[str]) -> ModelConfig:
    """Read and validate ``<model_dir>/config.yaml``."""
    path = Path(model_dir) / CONFIG_NAME
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelConfigError(f"{path}: missing; every model needs a {CONFIG_NAME}") from exc
    except yaml.YAMLError as exc:
        raise ModelConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_model_config(data, name=Path(model_dir).name, source=str(path))

"""Typed inference requests and responses (decoded, numpy-backed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["InferenceRequest", "InferenceResponse", "RequestedOutput", "Tensor"]


@dataclass(slots=True)
class Tensor:
    """A named tensor; ``data`` has the declared shape and the datatype's numpy dtype."""

    name: str
    datatype: str
    data: np.ndarray
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> list[int]:
        """Return the shape as a list of ints."""
        return list(self.data.shape)


@dataclass(slots=True)
class RequestedOutput:
    """An output the caller asked for, and whether it wants it as binary data."""

    name: str
    binary: bool | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class InferenceRequest:
    """A decoded inference request."""

    inputs: list[Tensor]
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: list[RequestedOutput] | None = None
    # Request-level "binary_data_output" (binary tensor extension).
    binary_output: bool = False
    # Raw binary mode (Inference-Header-Content-Length: 0): the single input's bytes.
    raw: bytes | None = None


@dataclass(slots=True)
class InferenceResponse:
    """An inference response ready to be encoded."""

    model_name: str
    model_version: str
    outputs: list[Tensor]
    id: str | None = None
    parameters: dict[str, Any] | None = None

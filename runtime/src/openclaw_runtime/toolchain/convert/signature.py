"""The input signature of a model to convert: name, datatype and shape per input.

Given on the command line as ``--input NAME:DATATYPE:DIMS`` (``input:FP32:64``,
``image:FP32:3x224x224``; the batch dimension is implied and dynamic), or
inferred from the source model when it says enough (``n_features_in_`` of a
scikit-learn estimator, the first layer of a PyTorch module, a Keras model's
inputs). The inferred signature is printed, so it can be pinned next time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...protocol.datatypes import DATATYPES
from ..errors import UsageError

__all__ = ["InputSpec", "parse_input", "specs_to_json"]


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One model input; ``shape`` excludes the batch dimension."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of this input."""
        return DATATYPES[self.datatype]

    def example(self, batch: int = 2) -> np.ndarray:
        """Return a zero-filled example batch (for exporters that trace the model)."""
        return np.zeros((batch, *self.shape), dtype=self.dtype)

    def __str__(self) -> str:
        dims = "x".join(str(d) for d in self.shape) or "scalar"
        return f"{self.name}:{self.datatype}:{dims}"


def parse_input(text: str) -> InputSpec:
    """Parse ``NAME:DATATYPE:DIMS`` (dims separated by ``x`` or ``,``)."""
    parts = text.split(":")
    if len(parts) != 3 or not parts[0]:
        raise UsageError(
            f"--input {text!r}: expected NAME:DATATYPE:DIMS, e.g. input:FP32:64 or x:FP32:3x32x32"
        )
    name, datatype, dims = parts[0], parts[1].upper(), parts[2]
    if datatype not in DATATYPES or datatype == "BYTES":
        allowed = ", ".join(d for d in DATATYPES if d != "BYTES")
        raise UsageError(f"--input {text!r}: datatype {datatype!r} is not one of {allowed}")
    try:
        shape = (
            tuple(int(d) for d in dims.replace(",", "x").split("x") if d)
            if dims != "scalar"
            else ()
        )
    except ValueError as exc:
        raise UsageError(f"--input {text!r}: dims must be integers separated by 'x'") from exc
    if any(d < 1 for d in shape):
        raise UsageError(
            f"--input {text!r}: every dimension must be >= 1 (the batch dimension is implied)"
        )
    return InputSpec(name, datatype, shape)


def specs_to_json(specs: list[InputSpec]) -> list[dict]:
    """Return the signature as plain data for ``--json`` output."""
    return [{"name": s.name, "datatype": s.datatype, "shape": list(s.shape)} for s in specs]

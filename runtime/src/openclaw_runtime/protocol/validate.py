"""Check a decoded request against the model version it is for: inputs, raw mode, outputs.

No web framework here, and no import of the model layer at run time: a loaded
version is read through its attributes (``name``, ``config``, ``input_specs``,
``output_names``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInput, clip
from .datatypes import DATATYPES
from .types import InferenceRequest

if TYPE_CHECKING:
    from ..models.session import LoadedModel

__all__ = ["select_outputs", "validate_inputs"]


def validate_inputs(
    loaded: LoadedModel, request: InferenceRequest
) -> tuple[dict[str, np.ndarray], int]:
    """Return the session feeds of ``request`` and its row count, or raise InvalidInput (400)."""
    config = loaded.config
    batched = config.max_batch_size > 0
    if request.raw is not None:
        return _raw_input(loaded, request.raw)
    feeds: dict[str, np.ndarray] = {}
    rows = -1
    specs = loaded.input_specs
    for tensor in request.inputs:
        spec = specs.get(tensor.name)
        if spec is None:
            raise InvalidInput(
                f"unknown input '{clip(tensor.name)}' for model '{loaded.name}'; it takes "
                + ", ".join(f"'{s.name}'" for s in config.inputs)
            )
        if tensor.name in feeds:
            raise InvalidInput(f"input '{clip(tensor.name)}' is given twice")
        if tensor.datatype != spec.datatype:
            raise InvalidInput(
                f"input '{clip(tensor.name)}': datatype {tensor.datatype} given, "
                f"model '{loaded.name}' expects {spec.datatype}"
            )
        arr = tensor.data
        shape = arr.shape[1:] if batched else arr.shape
        if (batched and arr.ndim == 0) or (
            shape != spec.shape
            and (
                len(shape) != len(spec.shape)
                or any(e not in (d, -1) for d, e in zip(shape, spec.shape, strict=True))
            )
        ):
            expected = ", ".join("-1" if d == -1 else str(d) for d in spec.shape)
            raise InvalidInput(
                f"input '{clip(tensor.name)}': shape {list(arr.shape)} given, "
                f"model '{loaded.name}' expects [{'-1, ' if batched else ''}{expected}] "
                "(-1 = any size)"
            )
        if batched:
            if arr.shape[0] == 0:
                raise InvalidInput(
                    f"input '{clip(tensor.name)}': empty batch (0 rows); send >= 1 row"
                )
            if rows not in (-1, arr.shape[0]):
                raise InvalidInput(
                    f"input '{clip(tensor.name)}': {arr.shape[0]} rows, other inputs have {rows}"
                )
            rows = arr.shape[0]
        if spec.datatype == "BYTES":
            arr = np.vectorize(_to_str, otypes=[object])(arr) if arr.size else arr
        feeds[tensor.name] = arr
    missing = [s.name for s in config.inputs if s.name not in feeds]
    if missing:
        raise InvalidInput(f"model '{loaded.name}' needs input(s) {missing}, not given")
    return feeds, max(rows, 1)


def _to_str(item: Any) -> str:
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)


def _raw_input(loaded: LoadedModel, raw: bytes) -> tuple[dict[str, np.ndarray], int]:
    config = loaded.config
    if len(config.inputs) != 1:
        raise InvalidInput(
            f"raw binary requests (Inference-Header-Content-Length: 0) need a model with one "
            f"input; '{loaded.name}' has {len(config.inputs)}"
        )
    spec = config.inputs[0]
    if spec.datatype == "BYTES" or -1 in spec.shape:
        raise InvalidInput(f"input '{spec.name}': raw binary mode needs a fixed-size numeric input")
    dtype = DATATYPES[spec.datatype].newbyteorder("<")
    row_bytes = math.prod(spec.shape) * dtype.itemsize
    if config.max_batch_size > 0:
        if not raw or len(raw) % row_bytes:
            raise InvalidInput(
                f"input '{spec.name}': raw body of {len(raw)} bytes is not a whole number of "
                f"{row_bytes}-byte rows"
            )
        shape = (len(raw) // row_bytes, *spec.shape)
    else:
        if len(raw) != row_bytes:
            raise InvalidInput(f"input '{spec.name}': raw body must be {row_bytes} bytes")
        shape = spec.shape
    arr = np.frombuffer(raw, dtype=dtype).reshape(shape)
    return {spec.name: arr}, shape[0] if config.max_batch_size > 0 else 1


def select_outputs(loaded: LoadedModel, request: InferenceRequest) -> set[str] | None:
    """Return the output names the request asks for (None = all), or raise InvalidInput."""
    if not request.outputs:
        return None
    known = set(loaded.output_names)
    names = {o.name for o in request.outputs}
    unknown = sorted(names - known)
    if unknown:
        raise InvalidInput(
            f"unknown output(s) {clip(repr(unknown))} for model '{loaded.name}'; "
            f"it has {sorted(known)}"
        )
    return names

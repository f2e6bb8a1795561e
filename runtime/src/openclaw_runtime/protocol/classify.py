"""The classification extension: top-k classes of an output instead of its scores."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import InvalidInput, clip
from .types import InferenceRequest, Tensor

if TYPE_CHECKING:
    from ..models.session import LoadedModel

__all__ = ["classify", "requested_classes"]


def requested_classes(loaded: LoadedModel, request: InferenceRequest) -> dict[str, int] | None:
    """Return {output name: top-k} for outputs requested with ``parameters.classification``."""
    found: dict[str, int] = {}
    for out in request.outputs or ():
        k = out.parameters.get("classification")
        if k is None:
            continue
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidInput(
                f"output '{clip(out.name)}': parameters.classification must be a positive "
                f"integer (the number of top classes to return), got {clip(repr(k))}"
            )
        spec = next(s for s in loaded.config.outputs if s.name == out.name)
        if spec.datatype in ("BYTES", "BOOL"):
            raise InvalidInput(
                f"output '{out.name}' is {spec.datatype}: classification needs a numeric output"
            )
        found[out.name] = k
    return found or None


def classify(loaded: LoadedModel, tensor: Tensor, k: int) -> Tensor:
    """Replace scores by the top ``k`` classes as "<score>:<index>[:<label>]" strings.

    The classification extension of the Open Inference Protocol (Triton's format): per
    batch row for a batched model, over the whole tensor otherwise; ``k`` is capped at
    the number of classes; labels come from the model's labels file when it has one.
    """
    data = tensor.data
    batched = loaded.config.max_batch_size > 0
    rows = data.reshape(data.shape[0], -1) if batched and data.ndim else data.reshape(1, -1)
    k = min(k, rows.shape[1])
    labels = loaded.labels
    floating = rows.dtype.kind == "f"
    # Enough significant digits to read the value back exactly (9 for FP32, 17 for FP64).
    fmt = "%.17g" if rows.dtype.itemsize > 4 else "%.9g"
    # Stable sort on the negated scores: ties keep the lower index first.
    order = np.argsort(-rows.astype(np.float64), axis=1, kind="stable")[:, :k]
    out = np.empty(order.shape, dtype=np.object_)
    for r in range(order.shape[0]):
        for c in range(k):
            index = int(order[r, c])
            value = rows[r, index]
            text = fmt % value if floating else str(int(value))
            label = labels[index] if labels is not None and index < len(labels) else None
            out[r, c] = f"{text}:{index}:{label}" if label is not None else f"{text}:{index}"
    shape = out.shape if batched else (k,)
    return Tensor(tensor.name, "BYTES", out.reshape(shape))

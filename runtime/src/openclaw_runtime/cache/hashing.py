"""The cache key: model, resolved version and a hash of the canonical inputs and parameters."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..protocol.types import InferenceRequest

__all__ = ["IGNORED_PARAMETERS", "cache_opt_out", "request_key"]

# Request parameters that change how a result travels or is scheduled, not what it is.
IGNORED_PARAMETERS = frozenset(
    {
        "cache",
        "timeout",
        "priority",
        "binary_data_output",
        "binary_data_size",
        "binary_data",
    }
)


def _canonical(params: Mapping[str, Any] | None) -> bytes:
    if not params:
        return b"{}"
    kept = {k: v for k, v in params.items() if k not in IGNORED_PARAMETERS}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str).encode()


def _feed_array(h: Any, data: np.ndarray) -> None:
    h.update(f"{data.dtype.str}{data.shape}".encode())
    if data.dtype == object:
        for item in data.reshape(-1):
            raw = item if isinstance(item, bytes) else str(item).encode()
            h.update(len(raw).to_bytes(8, "little"))
            h.update(raw)
    else:
        h.update(np.ascontiguousarray(data).data)


def cache_opt_out(request: InferenceRequest) -> bool:
    """Return True when the request asks not to be cached (``parameters: {"cache": false}``)."""
    value = request.parameters.get("cache", True) if request.parameters else True
    return value is False or (
        isinstance(value, str) and value.lower() in ("false", "0", "no")
    )


def request_key(model: str, version: str, request: InferenceRequest) -> str:
    """Return the hex SHA-256 that identifies the result of ``request`` on ``model``/``version``.

    Inputs are taken in name order with their datatype, shape and bytes, so
    JSON and binary encodings of the same tensor give the same key; the
    request id and transport parameters are left out.
    """
    h = hashlib.sha256()
    for part in (model, version):
        raw = part.encode()
        h.update(len(raw).to_bytes(4, "little") + raw)
    h.update(_canonical(request.parameters))
    if request.raw is not None:
        h.update(b"raw" + len(request.raw).to_bytes(8, "little") + request.raw)
    for tensor in sorted(request.inputs, key=lambda t: t.name):
        h.update(f"\0in\0{tensor.name}\0{tensor.datatype}\0".encode())
        h.update(_canonical(tensor.parameters))
        _feed_array(h, tensor.data)
    if request.outputs:
        for out in sorted(request.outputs, key=lambda o: o.name):
            h.update(f"\0out\0{out.name}\0".encode())
            h.update(_canonical(out.parameters))
    return h.hexdigest()

"""The cache key: model, resolved version and a hash of the canonical inputs and parameters."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

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


def _array_parts(name: str, data: np.ndarray) -> list[bytes]:
    head = f"\0{len(name)}:{name}\0{data.dtype.str}{data.shape}".encode()
    if data.dtype != object:
        return [head, np.ascontiguousarray(data).data.tobytes()]
    parts = [head]
    for item in data.reshape(-1):
        raw = item if isinstance(item, bytes) else str(item).encode()
        parts += [len(raw).to_bytes(8, "little"), raw]
    return parts


def cache_opt_out(parameters: Mapping[str, Any] | None) -> bool:
    """Return True when the request asks not to be cached (``parameters: {"cache": false}``)."""
    value = parameters.get("cache", True) if parameters else True
    return value is False or (isinstance(value, str) and value.lower() in ("false", "0", "no"))


def request_key(
    model: str,
    version: str,
    inputs: Mapping[str, np.ndarray],
    parameters: Mapping[str, Any] | None,
) -> str:
    """Return the hex SHA-256 that identifies the outputs of ``inputs`` on ``model``/``version``.

    Inputs are the validated arrays (after decoding), taken in name order with
    dtype, shape and bytes, so JSON and binary encodings of the same tensor
    give the same key; the request id and transport parameters are left out.
    """
    head = f"{len(model)}:{model}\0{len(version)}:{version}\0".encode()
    parts = [head, _canonical(parameters)]
    for name in sorted(inputs):
        parts += _array_parts(name, inputs[name])
    return hashlib.sha256(b"".join(parts)).hexdigest()

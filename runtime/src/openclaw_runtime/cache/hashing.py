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


def _feed_array(h: Any, data: np.ndarray) -> None:
    h.update(f"{data.dtype.str}{data.shape}".encode())
    if data.dtype == object:
        for item in data.reshape(-1):
            raw = item if isinstance(item, bytes) else str(item).encode()
            h.update(len(raw).to_bytes(8, "little"))
            h.update(raw)
    else:
        h.update(np.ascontiguousarray(data).data)


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
    h = hashlib.sha256()
    for part in (model, str(version)):
        raw = part.encode()
        h.update(len(raw).to_bytes(4, "little") + raw)
    h.update(_canonical(parameters))
    for name in sorted(inputs):
        h.update(f"\0in\0{name}\0".encode())
        _feed_array(h, inputs[name])
    return h.hexdigest()

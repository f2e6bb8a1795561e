"""The cache key: model, resolved version, the version's content digest and output order,
and a hash of the canonical inputs and parameters."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "IGNORED_PARAMETERS",
    "cache_opt_out",
    "inputs_key",
    "request_key",
    "version_head",
]

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


def version_head(model: str, version: str, digest: str, outputs: Sequence[str] = ()) -> bytes:
    """Return the part of a key that names the loaded version (built once per version).

    ``digest`` is the version's content digest (``LoadedModel.digest``, taken
    at load time): files replaced under the same version number give new keys,
    in this process and in a Redis shared with other hosts. ``outputs`` are the
    output names in the order the outputs are stored (a config.yaml that
    reorders or drops outputs must not reuse entries).
    """
    names = "\0".join(outputs)
    return (
        f"{len(model)}:{model}\0{len(version)}:{version}\0{len(digest)}:{digest}\0"
        f"{len(names)}:{names}\0"
    ).encode()


def inputs_key(head: bytes, inputs: Mapping[str, np.ndarray], parameters: Any) -> str:
    """Return the hex SHA-256 of ``head`` (from :func:`version_head`), parameters and inputs.

    Inputs are the validated arrays (after decoding), taken in name order with
    dtype, shape and bytes, so JSON and binary encodings of the same tensor
    give the same key; the request id and transport parameters are left out.
    """
    parts = [head, _canonical(parameters)]
    for name in sorted(inputs):
        parts += _array_parts(name, inputs[name])
    return hashlib.sha256(b"".join(parts)).hexdigest()


def request_key(
    model: str,
    version: str,
    inputs: Mapping[str, np.ndarray],
    parameters: Mapping[str, Any] | None,
    *,
    digest: str,
    outputs: Sequence[str] = (),
) -> str:
    """Return the hex SHA-256 that identifies the outputs of ``inputs`` on ``model``/``version``.

    ``digest`` and ``outputs`` are described at :func:`version_head`.
    """
    return inputs_key(version_head(model, version, digest, outputs), inputs, parameters)

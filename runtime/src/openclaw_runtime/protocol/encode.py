"""Encode OIP responses: JSON and the binary tensor extension."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson

from .datatypes import datatype_of
from .types import InferenceResponse, RequestedOutput

__all__ = ["encode_response", "pack_bytes"]

_LEN = struct.Struct("<I")


def pack_bytes(array: np.ndarray) -> bytes:
    """Serialize a BYTES tensor: each element as a 4-byte little-endian length + bytes."""
    parts = []
    for item in array.ravel():
        raw = item if isinstance(item, bytes) else str(item).encode("utf-8")
        parts.append(_LEN.pack(len(raw)))
        parts.append(raw)
    return b"".join(parts)


def _json_data(array: np.ndarray) -> Any:
    flat = array.reshape(-1)
    if flat.dtype.kind == "O" or flat.dtype.kind in "SU":
        return [
            x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in flat.tolist()
        ]
    if flat.dtype == np.float16:
        flat = flat.astype(np.float32)
    if not flat.flags.c_contiguous:
        flat = np.ascontiguousarray(flat)
    return flat


def _spell_non_finite(outputs: list[dict[str, Any]]) -> bool:
    """Write non-finite floats of JSON outputs as "NaN", "Infinity", "-Infinity"; True if any."""
    changed = False
    for entry in outputs:
        data = entry.get("data")
        if isinstance(data, np.ndarray) and data.dtype.kind == "f":
            bad = np.flatnonzero(~np.isfinite(data)).tolist()
            if bad:
                items: list[Any] = list(data)  # numpy scalars keep float32's shortest form
                for i in bad:
                    v = data[i]
                    items[i] = "NaN" if np.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
                entry["data"] = items
                changed = True
    return changed


def encode_response(
    response: InferenceResponse,
    requested: list[RequestedOutput] | None = None,
    binary_default: bool = False,
) -> tuple[bytes, int | None]:
    """Return ``(body, header_length)``; header_length is None for a pure JSON body."""
    flags = {r.name: r.binary for r in requested or ()}
    outputs = []
    chunks: list[bytes] = []
    for tensor in response.outputs:
        arr = tensor.data
        flag = flags.get(tensor.name)
        binary = binary_default if flag is None else flag
        entry: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype or datatype_of(arr),
            "shape": list(arr.shape),
        }
        if binary:
            if entry["datatype"] == "BYTES":
                raw = pack_bytes(arr)
            else:
                flat = np.ascontiguousarray(arr)
                if flat.dtype.byteorder == ">":  # the wire is little-endian
                    flat = flat.astype(flat.dtype.newbyteorder("<"))
                raw = flat.tobytes()
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = _json_data(arr)
        outputs.append(entry)
    doc: dict[str, Any] = {
        "model_name": response.model_name,
        "model_version": response.model_version,
        "id": response.id or "",
        "outputs": outputs,
    }
    if response.parameters:
        doc["parameters"] = response.parameters
    header = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    # orjson writes NaN and infinities as null: look closer only when a null is there at all.
    if b"null" in header and _spell_non_finite(outputs):
        header = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    if not chunks:
        return header, None
    return header + b"".join(chunks), len(header)

"""Encoding of cached results: the output arrays as a small JSON header plus raw bytes."""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence

import numpy as np

__all__ = ["decode_outputs", "encode_outputs"]

_MAGIC = b"OCR1"


def encode_outputs(outputs: Sequence[np.ndarray]) -> bytes | None:
    """Return the bytes to cache for ``outputs``, or None if they cannot be cached (objects)."""
    header = []
    blobs = []
    for out in outputs:
        data = np.ascontiguousarray(out)
        if data.dtype == object:
            return None
        header.append([data.dtype.str, list(data.shape), data.nbytes])
        blobs.append(data.tobytes())
    head = json.dumps(header, separators=(",", ":")).encode()
    return b"".join([_MAGIC, struct.pack("<I", len(head)), head, *blobs])


def decode_outputs(blob: bytes) -> list[np.ndarray]:
    """Rebuild the output arrays from :func:`encode_outputs` bytes (ValueError if damaged)."""
    if blob[:4] != _MAGIC or len(blob) < 8:
        raise ValueError("not a cached result")
    (size,) = struct.unpack_from("<I", blob, 4)
    offset = 8 + size
    header = json.loads(blob[8:offset])
    out = []
    for dtype, shape, nbytes in header:
        dt = np.dtype(dtype)
        if offset + nbytes > len(blob):
            raise ValueError("cached result is truncated")
        if nbytes:
            arr = np.frombuffer(blob, dtype=dt, count=nbytes // dt.itemsize, offset=offset)
        else:
            arr = np.empty(0, dtype=dt)
        out.append(arr.reshape(shape))
        offset += nbytes
    if offset != len(blob):
        raise ValueError("cached result has trailing bytes")
    return out

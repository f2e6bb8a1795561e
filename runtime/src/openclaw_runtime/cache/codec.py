"""Encoding of cached results: output tensors as a small JSON header plus raw bytes."""

from __future__ import annotations

import json
import struct

import numpy as np

from ..protocol.types import Tensor

__all__ = ["decode_outputs", "encode_outputs"]

_MAGIC = b"OCR1"


def encode_outputs(outputs: list[Tensor]) -> bytes | None:
    """Return the bytes to cache for ``outputs``, or None if they cannot be cached (BYTES)."""
    header = []
    blobs = []
    for t in outputs:
        if t.data.dtype == object:
            return None
        data = np.ascontiguousarray(t.data)
        header.append(
            [t.name, t.datatype, data.dtype.str, list(data.shape), data.nbytes]
        )
        blobs.append(data.tobytes())
    head = json.dumps(header, separators=(",", ":")).encode()
    return b"".join([_MAGIC, struct.pack("<I", len(head)), head, *blobs])


def decode_outputs(blob: bytes) -> list[Tensor]:
    """Rebuild the output tensors from :func:`encode_outputs` bytes (ValueError if damaged)."""
    if blob[:4] != _MAGIC:
        raise ValueError("not a cached result")
    (size,) = struct.unpack_from("<I", blob, 4)
    offset = 8 + size
    header = json.loads(blob[8:offset])
    out = []
    for name, datatype, dtype, shape, nbytes in header:
        dt = np.dtype(dtype)
        if nbytes:
            arr = np.frombuffer(
                blob, dtype=dt, count=nbytes // dt.itemsize, offset=offset
            )
        else:
            arr = np.empty(0, dtype=dt)
        out.append(Tensor(name, datatype, arr.reshape(shape)))
        offset += nbytes
    if offset != len(blob):
        raise ValueError("cached result has trailing bytes")
    return out

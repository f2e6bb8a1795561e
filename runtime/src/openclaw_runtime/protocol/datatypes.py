"""Open Inference Protocol datatypes and their numpy equivalents."""

from __future__ import annotations

import numpy as np

__all__ = ["DATATYPES", "ONNX_TO_DATATYPE", "datatype_of", "dtype_of"]

DATATYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(np.object_),
}

_BY_DTYPE = {dt: name for name, dt in DATATYPES.items() if name != "BYTES"}

# onnxruntime's type strings ("tensor(float)") to OIP datatypes.
ONNX_TO_DATATYPE = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}


def dtype_of(datatype: str) -> np.dtype:
    """Return the numpy dtype of an OIP datatype name (KeyError if unknown)."""
    return DATATYPES[datatype]


def datatype_of(array: np.ndarray) -> str:
    """Return the OIP datatype name of a numpy array."""
    if array.dtype.kind in "OSU":
        return "BYTES"
    name = _BY_DTYPE.get(array.dtype)
    if name is None:
        name = _BY_DTYPE[array.dtype.newbyteorder("=")]
    return name

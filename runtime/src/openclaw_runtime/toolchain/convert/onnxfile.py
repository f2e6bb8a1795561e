"""Existing ONNX files: checked, and upgraded to a target opset on request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import version_converter

from ...models.manifest import external_data_files
from ...protocol.datatypes import datatype_of
from ..errors import ConversionError
from .signature import InputSpec

__all__ = ["convert_onnx_file", "default_opset", "onnx_signature"]


def default_opset(model: onnx.ModelProto) -> int:
    """Return the model's ai.onnx opset."""
    return next((i.version for i in model.opset_import if i.domain in ("", "ai.onnx")), 0)


def onnx_signature(model: onnx.ModelProto) -> list[InputSpec]:
    """Return the graph inputs (initializers excluded) as a signature; -1 = dynamic dim."""
    initializers = {i.name for i in model.graph.initializer}
    specs = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        datatype = datatype_of(np.empty(0, dtype))
        dims = tuple(
            d.dim_value if d.HasField("dim_value") else -1
            for d in value.type.tensor_type.shape.dim[1:]
        )
        specs.append(InputSpec(value.name, datatype, dims))
    return specs


def convert_onnx_file(
    path: Path, *, opset: int | None
) -> tuple[onnx.ModelProto, list[InputSpec], None, bool]:
    """Load and check an ONNX file; convert it to ``opset`` when given and different.

    The last item says whether the file keeps its weights as external data (the
    new version then does too, in ``model.onnx.data``).
    """
    try:
        onnx.checker.check_model(str(path))  # by path: external data next to the file
        model = onnx.load(str(path), load_external_data=False)
        external = bool(external_data_files(path, model))
        if external:
            onnx.load_external_data_for_model(model, str(path.parent))
    except Exception as exc:
        raise ConversionError(f"{path}: not a valid ONNX model: {exc}") from exc
    current = default_opset(model)
    if opset is not None and opset != current:
        if opset < current:
            raise ConversionError(
                f"{path}: opset {current} cannot be lowered to {opset}; re-export the model"
            )
        try:
            model = version_converter.convert_version(model, opset)
            onnx.checker.check_model(model)
        except Exception as exc:
            raise ConversionError(
                f"{path}: upgrading opset {current} -> {opset} failed: {exc}"
            ) from exc
    return model, onnx_signature(model), None, external

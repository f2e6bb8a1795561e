"""``openclaw-model quantize``: FP32 -> INT8 with onnxruntime.quantization, as a new version.

- ``dynamic``: weights quantized ahead of time, activations at run time; no
  data needed (data, if given, is kept as the parity reference).
- ``static``: weights and activations quantized with ranges measured on
  calibration data (QDQ format, MinMax calibration).

The new version records its parent and a parity reference (``reference.npz``),
which ``verify`` uses to compare INT8 against FP32.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from .. import __version__
from ..models.manifest import verify_manifest
from ..models.modelconfig import load_model_config
from .data import load_arrays, rows, take
from .errors import ToolchainError, UsageError
from .layout import MODEL_FILE, REFERENCE_FILE, ModelRef, model_bytes, next_version, read_metadata
from .progress import Progress
from .versions import write_version

__all__ = ["MODES", "REFERENCE_ROWS", "quantize"]

MODES = ("dynamic", "static")
REFERENCE_ROWS = 512  # rows kept for parity checks (enough for a stable top-1 rate)
CALIBRATION_ROWS = 1024
_INT8_OPS = {
    "DynamicQuantizeLinear",
    "QuantizeLinear",
    "MatMulInteger",
    "ConvInteger",
    "QLinearMatMul",
    "QLinearConv",
    "QGemm",
}


class _Reader:
    """Feeds calibration batches to onnxruntime's calibrator."""

    def __init__(self, arrays: dict[str, np.ndarray], batch: int = 32) -> None:
        self._arrays = arrays
        self._batch = batch
        self._start = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._start >= rows(self._arrays):
            return None
        chunk = take(self._arrays, self._start, self._start + self._batch)
        self._start += self._batch
        return chunk

    def rewind(self) -> None:
        self._start = 0


def _preprocess(src: Path, dst: Path, progress: Progress) -> Path:
    """Run onnxruntime's recommended pre-processing; fall back to the model as is."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        quant_pre_process(str(src), str(dst), skip_symbolic_shape=True)
        return dst
    except Exception as exc:
        progress.step(f"pre-processing skipped ({type(exc).__name__}: {str(exc)[:120]})")
        return src


def _prune_opsets(model: onnx.ModelProto) -> None:
    """Drop opset imports no node uses (pre-processing declares every domain it knows)."""
    used = {node.domain for node in model.graph.node} | {""}
    keep = [
        imp for imp in model.opset_import if (imp.domain if imp.domain != "ai.onnx" else "") in used
    ]
    del model.opset_import[:]
    model.opset_import.extend(keep)


def _reader_class():
    from onnxruntime.quantization import CalibrationDataReader

    return type("CalibrationReader", (_Reader, CalibrationDataReader), {})


def quantize(
    ref: ModelRef,
    mode: str,
    progress: Progress,
    *,
    data: Path | None = None,
    version: int | None = None,
    per_channel: bool = False,
    replace: bool = False,
) -> dict[str, Any]:
    """Quantize ``ref`` (an FP32 version) to INT8 and install it as a new version."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    if mode not in MODES:
        raise UsageError(f"--mode {mode!r}: choose dynamic or static")
    if mode == "static" and data is None:
        raise UsageError("--mode static needs --calibration DATA (.npy, .npz or a folder of them)")
    parent_meta = read_metadata(ref.version_dir)
    if parent_meta.get("precision") == "int8":
        raise UsageError(
            f"{ref}: already INT8; quantize the FP32 version {parent_meta.get('parent_version')}"
        )
    progress.step(f"checking {ref.version_dir} against its manifest")
    verify_manifest(ref.version_dir)
    config = load_model_config(ref.model_dir)
    arrays = load_arrays(data, config) if data is not None else None
    if arrays is None and (ref.version_dir / REFERENCE_FILE).exists():
        with np.load(ref.version_dir / REFERENCE_FILE) as saved:
            arrays = {k: saved[k] for k in saved.files}
    with tempfile.TemporaryDirectory() as tmp:
        src = _preprocess(ref.version_dir / MODEL_FILE, Path(tmp) / "pre.onnx", progress)
        out = Path(tmp) / "int8.onnx"
        progress.step(f"quantizing ({mode}) {ref.version_dir / MODEL_FILE}")
        try:
            if mode == "dynamic":
                quantize_dynamic(
                    str(src),
                    str(out),
                    weight_type=QuantType.QInt8,
                    per_channel=per_channel,
                    reduce_range=True,
                )
            else:
                calibration = take(arrays, 0, CALIBRATION_ROWS)
                progress.step(f"calibrating on {rows(calibration)} rows (MinMax)")
                quantize_static(
                    str(src),
                    str(out),
                    _reader_class()(calibration),
                    quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    per_channel=per_channel,
                    reduce_range=True,
                    calibrate_method=CalibrationMethod.MinMax,
                )
        except Exception as exc:
            raise ToolchainError(f"{ref}: onnxruntime quantization ({mode}) failed: {exc}") from exc
        model = onnx.load(str(out))
    _prune_opsets(model)
    quantized = sum(node.op_type in _INT8_OPS for node in model.graph.node)
    if not quantized:
        raise ToolchainError(
            f"{ref}: nothing was quantized (no MatMul, Gemm or Conv the quantizer handles); "
            "INT8 brings nothing for this model, keep the FP32 version"
        )
    model.doc_string = f"INT8 ({mode}) of version {ref.version}"
    number = version or next_version(ref.model_dir)
    reference = take(arrays, 0, REFERENCE_ROWS) if arrays is not None else None
    metadata = {
        "created_by": f"openclaw-model {__version__}",
        "command": "quantize",
        "precision": "int8",
        "parent_version": ref.version,
        "quantization": {
            "mode": mode,
            "weights": "int8",
            # 7-bit weights: CPUs without VNNI (AVX2 only) saturate on the full range.
            "reduce_range": True,
            "activations": "uint8",
            "per_channel": per_channel,
            "format": "QDQ" if mode == "static" else "QOperator",
            "data": str(data) if data else None,
        },
        "reference": REFERENCE_FILE if reference is not None else None,
    }
    result = write_version(
        ref.model_dir,
        number,
        model,
        progress,
        metadata=metadata,
        reference=reference,
        replace=replace,
    )
    fp32 = model_bytes(ref.version_dir)
    return {
        "model": ref.name,
        "parent_version": ref.version,
        "mode": mode,
        "size_ratio": round(result["bytes"] / fp32, 3),
        "quantized_nodes": quantized,
        "reference_rows": rows(reference) if reference is not None else 0,
        **result,
    }

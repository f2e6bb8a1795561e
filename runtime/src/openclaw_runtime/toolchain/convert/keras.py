"""TensorFlow/Keras models to ONNX via tf2onnx (TensorFlow itself is not a dependency)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import onnx

from ..errors import ConversionError, MissingDependency, UnsafeInput
from .onnxfile import onnx_signature
from .signature import InputSpec

__all__ = ["H5_WARNING", "SAVEDMODEL_WARNING", "convert_keras_path"]

H5_WARNING = (
    "legacy Keras .h5 files may hold Lambda layers whose Python code runs while the model "
    "is loaded; pass --trust-pickle only for files you produced yourself or got from a "
    "source you trust, or re-save the model in the .keras format (loaded in safe mode)"
)

SAVEDMODEL_WARNING = (
    "a TensorFlow SavedModel is a program, not data: tf2onnx loads and runs its graph, whose "
    "operations can read and write files and whose custom ops load native code; pass "
    "--trust-pickle only for SavedModels you produced yourself or got from a source you trust, "
    "or export the model to .keras (loaded in safe mode) or ONNX first"
)


def _require(module: str, package: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependency(package, "converting TensorFlow/Keras models")


def convert_keras_path(
    path: Path, specs: list[InputSpec], *, opset: int, trust_pickle: bool = False
) -> tuple[onnx.ModelProto, list[InputSpec], None]:
    """Convert a ``.keras``/``.h5`` file or a SavedModel directory; return model and signature."""
    if path.suffix.lower() in (".h5", ".hdf5") and not trust_pickle:
        raise UnsafeInput(f"{path}: refusing to load: {H5_WARNING}")
    if path.is_dir() and not trust_pickle:
        raise UnsafeInput(f"{path}: refusing to convert: {SAVEDMODEL_WARNING}")
    _require("tensorflow", "tensorflow")
    _require("tf2onnx", "tf2onnx")
    if path.is_dir():
        # tf2onnx's documented command line is its stable interface for SavedModels.
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "model.onnx"
            cmd = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(path)]
            cmd += ["--output", str(out), "--opset", str(opset)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0 or not out.exists():
                raise ConversionError(f"{path}: tf2onnx failed: {done.stderr.strip()[-2000:]}")
            model = onnx.load(str(out))
        return model, specs or onnx_signature(model), None
    import tensorflow as tf
    import tf2onnx

    try:
        load_kwargs = {} if path.suffix.lower() in (".h5", ".hdf5") else {"safe_mode": True}
        keras_model = tf.keras.models.load_model(str(path), compile=False, **load_kwargs)
    except Exception as exc:
        raise ConversionError(f"{path}: Keras cannot load it: {exc}") from exc
    if not specs:
        specs = [
            InputSpec(t.name.split(":")[0], "FP32", tuple(int(d) for d in t.shape[1:]))
            for t in keras_model.inputs
        ]
    signature = [tf.TensorSpec((None, *s.shape), tf.as_dtype(s.dtype), name=s.name) for s in specs]
    try:
        model, _ = tf2onnx.convert.from_keras(keras_model, input_signature=signature, opset=opset)
    except Exception as exc:
        raise ConversionError(f"{path}: tf2onnx failed: {exc}") from exc
    return model, specs, None

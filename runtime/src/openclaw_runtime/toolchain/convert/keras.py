"""TensorFlow/Keras models to ONNX via tf2onnx (TensorFlow itself is not a dependency)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import onnx

from ..errors import ConversionError, MissingDependency
from .onnxfile import onnx_signature
from .signature import InputSpec

__all__ = ["convert_keras_path"]


def _require(module: str, package: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependency(package, "converting TensorFlow/Keras models")


def convert_keras_path(
    path: Path, specs: list[InputSpec], *, opset: int
) -> tuple[onnx.ModelProto, list[InputSpec], None]:
    """Convert a ``.keras``/``.h5`` file or a SavedModel directory; return model and signature."""
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
        keras_model = tf.keras.models.load_model(str(path), compile=False)
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

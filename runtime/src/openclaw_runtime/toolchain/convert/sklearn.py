"""scikit-learn estimators and pipelines (joblib or pickle files) to ONNX via skl2onnx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx

from ..errors import ConversionError, MissingDependency, UnsafeInput
from .signature import InputSpec

__all__ = ["PICKLE_WARNING", "convert_sklearn_file", "load_pickle"]

PICKLE_WARNING = (
    "joblib and pickle files run arbitrary Python code while they are loaded; "
    "pass --trust-pickle only for files you produced yourself or got from a source you trust"
)
_EXTRA = "openclaw-runtime[toolchain]"


def load_pickle(path: Path, *, trust: bool) -> Any:
    """Unpickle ``path`` with joblib (which reads plain pickles too), only when trusted."""
    if not trust:
        raise UnsafeInput(f"{path}: refusing to load: {PICKLE_WARNING}")
    try:
        import joblib
    except ImportError as exc:
        raise MissingDependency("joblib", "loading scikit-learn models", extra=_EXTRA) from exc
    try:
        return joblib.load(path)
    except Exception as exc:
        raise ConversionError(f"{path}: cannot be loaded with joblib/pickle: {exc}") from exc


def _infer(estimator: Any, name: str) -> InputSpec:
    count = getattr(estimator, "n_features_in_", None)
    if count is None:
        raise ConversionError(
            "the estimator does not record n_features_in_; "
            "give the signature with --input input:FP32:N"
        )
    return InputSpec(name, "FP32", (int(count),))


def convert_sklearn_file(
    path: Path, specs: list[InputSpec], *, trust_pickle: bool, opset: int
) -> tuple[onnx.ModelProto, list[InputSpec], list[str] | None]:
    """Return the ONNX model, the input signature used and the class labels (classifiers)."""
    estimator = load_pickle(path, trust=trust_pickle)
    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType
    except ImportError as exc:
        raise MissingDependency("skl2onnx", "converting scikit-learn models", extra=_EXTRA) from exc
    if not hasattr(estimator, "predict") and not hasattr(estimator, "transform"):
        raise ConversionError(
            f"{path}: holds a {type(estimator).__name__}, not a scikit-learn estimator"
        )
    specs = specs or [_infer(estimator, "input")]
    count = getattr(estimator, "n_features_in_", None)
    if count is not None and len(specs) == 1 and specs[0].shape != (int(count),):
        raise ConversionError(
            f"--input {specs[0]}: the estimator was fitted on {count} features; "
            f"use --input {specs[0].name}:{specs[0].datatype}:{count}"
        )
    types = {"FP32": FloatTensorType, "FP64": DoubleTensorType, "INT64": Int64TensorType}
    initial = []
    for spec in specs:
        if spec.datatype not in types:
            raise ConversionError(
                f"input {spec.name}: skl2onnx takes FP32, FP64 or INT64, not {spec.datatype}"
            )
        initial.append((spec.name, types[spec.datatype]([None, *spec.shape])))
    classes = getattr(estimator, "classes_", None)
    options = {id(estimator): {"zipmap": False}} if classes is not None else None
    try:
        model = convert_sklearn(
            estimator,
            initial_types=initial,
            options=options,
            target_opset={"": opset, "ai.onnx.ml": 3},
        )
    except Exception as exc:
        raise ConversionError(
            f"{path}: skl2onnx cannot convert {type(estimator).__name__}: {exc}"
        ) from exc
    # Clients see "label" and "probabilities", like the demo model.
    renames = {"output_label": "label", "output_probability": "probabilities"}
    for node in model.graph.node:
        node.output[:] = [renames.get(o, o) for o in node.output]
    for out in model.graph.output:
        out.name = renames.get(out.name, out.name)
    if not any(imp.domain in ("", "ai.onnx") for imp in model.opset_import):
        # Graphs made only of ai.onnx.ml operators omit it; onnxruntime's quantizer needs it.
        model.opset_import.append(onnx.helper.make_opsetid("", opset))
    model.graph.name = f"openclaw_{type(estimator).__name__.lower()}"  # skl2onnx uses a random UUID
    labels = [str(c) for c in classes] if classes is not None else None
    return model, specs, labels

"""The demo model: a classifier of scikit-learn's bundled digits, as FP32 ONNX.

Built offline (the digits data set ships with scikit-learn), with a fixed seed,
so the same library versions produce the same bytes. Needs the ``demo`` extra
(scikit-learn, skl2onnx).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .manifest import write_manifest
from .modelconfig import CONFIG_NAME

__all__ = [
    "DEMO_MODEL_NAME",
    "DemoData",
    "build_demo_model",
    "demo_config",
    "load_digits_split",
    "train_digits_classifier",
]

DEMO_MODEL_NAME = "digits"
SEED = 20240601
INPUT_NAME = "input"
N_FEATURES = 64
LABELS = [str(d) for d in range(10)]
# ai.onnx 17 / ai.onnx.ml 3 run on every onnxruntime >= 1.14.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


@dataclass(frozen=True)
class DemoData:
    """The digits train/test split used by the demo model (features scaled to [0, 1])."""

    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any


def load_digits_split() -> DemoData:
    """Return the fixed 75/25 split of the digits data set as float32 in [0, 1]."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=SEED, stratify=digits.target
    )
    return DemoData(x_train, y_train, x_test, y_test)


def train_digits_classifier(hidden: tuple[int, ...] = (64,), data: DemoData | None = None):
    """Train the demo MLP classifier with a fixed seed and return the fitted estimator."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    data = data or load_digits_split()
    clf = MLPClassifier(hidden_layer_sizes=hidden, max_iter=300, random_state=SEED)
    # One BLAS thread: small matrices gain nothing from more, and it keeps results stable.
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(data.x_train, data.y_train)
    return clf


def to_onnx(clf) -> bytes:
    """Convert a fitted classifier to FP32 ONNX bytes with outputs label and probabilities."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    onx = convert_sklearn(
        clf,
        initial_types=[(INPUT_NAME, FloatTensorType([None, N_FEATURES]))],
        options={id(clf): {"zipmap": False}},
        target_opset=TARGET_OPSET,
        naming="digits_",
    )
    # Stable output names for clients: "label" and "probabilities".
    renames = {"output_label": "label", "output_probability": "probabilities"}
    for node in onx.graph.node:
        node.output[:] = [renames.get(o, o) for o in node.output]
    for out in onx.graph.output:
        out.name = renames.get(out.name, out.name)
    onx.doc_string = "OpenClaw demo: MLP classifier of scikit-learn digits"
    # skl2onnx names the graph with a random UUID; a fixed name keeps the bytes reproducible.
    onx.graph.name = "openclaw_digits"
    return onx.SerializeToString()


def demo_config(max_batch_size: int = 32) -> dict[str, Any]:
    """Return the config.yaml content of the demo model."""
    return {
        "platform": "onnxruntime_onnx",
        "max_batch_size": max_batch_size,
        "inputs": [{"name": INPUT_NAME, "datatype": "FP32", "shape": [N_FEATURES]}],
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": []},
            {"name": "probabilities", "datatype": "FP32", "shape": [len(LABELS)]},
        ],
        "version_policy": {"latest": 1},
        "load": "startup",
        "labels": "labels.txt",
    }


def build_demo_model(
    repository: str | os.PathLike[str],
    *,
    name: str = DEMO_MODEL_NAME,
    version: int = 1,
    onnx_bytes: bytes | None = None,
) -> Path:
    """Write ``<repository>/<name>/{config.yaml,labels.txt,<version>/model.onnx,SHA256SUMS}``.

    Returns the version directory. Pass ``onnx_bytes`` to reuse an already
    converted model (tests build it once per session).
    """
    model_dir = Path(repository) / name
    version_dir = model_dir / str(version)
    version_dir.mkdir(parents=True, exist_ok=True)
    if onnx_bytes is None:
        onnx_bytes = to_onnx(train_digits_classifier())
    (version_dir / "model.onnx").write_bytes(onnx_bytes)
    write_manifest(version_dir)
    (model_dir / "labels.txt").write_text("\n".join(LABELS) + "\n", encoding="utf-8")
    config_path = model_dir / CONFIG_NAME
    if not config_path.exists():
        config_path.write_text(yaml.safe_dump(demo_config(), sort_keys=False), encoding="utf-8")
    return version_dir

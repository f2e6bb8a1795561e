"""``openclaw-model build-demo``: the runtime's digits demo, FP32 (version 1) and INT8 (version 2).

The FP32 model comes from the runtime's own builder
(:mod:`openclaw_runtime.models.demo`: bundled digits data, fixed seed); this
module adds the INT8 version (dynamic quantization, the digits test split as
parity reference) and measures both versions' accuracy through the runtime's
loader.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..models import demo
from ..models.manifest import write_manifest
from .layout import METADATA_NAME, MODEL_FILE, ModelRef
from .progress import Progress
from .quantize import quantize

__all__ = ["build_demo"]


def _accuracy(ref: ModelRef, version: int, data) -> float:
    from .versions import open_version

    loaded = open_version(ref.model_dir, version)
    labels = loaded.run({"input": data.x_test})[loaded.output_names.index("label")]
    return float(np.mean(labels == data.y_test))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_demo(
    repo: Path, progress: Progress, *, name: str = demo.DEMO_MODEL_NAME
) -> dict[str, Any]:
    """Build (or rebuild identically) both demo versions; return accuracies and digests."""
    progress.step("training the digits MLP (scikit-learn, fixed seed)")
    data = demo.load_digits_split()
    clf = demo.train_digits_classifier(data=data)
    sklearn_accuracy = float(clf.score(data.x_test, data.y_test))
    progress.step("converting to ONNX (skl2onnx) and writing version 1")
    version_dir = demo.build_demo_model(repo, name=name, version=1, onnx_bytes=demo.to_onnx(clf))
    meta = {
        "created_by": f"openclaw-model {__version__}",
        "command": "build-demo",
        "precision": "fp32",
    }
    (version_dir / METADATA_NAME).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    write_manifest(version_dir)
    ref = ModelRef(repo, name, 1)
    with tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / "digits-test.npz"
        np.savez(reference, input=data.x_test)
        int8 = quantize(ref, "dynamic", progress, data=reference, version=2, replace=True)
    accuracy = {"1": _accuracy(ref, 1, data), "2": _accuracy(ref, 2, data)}
    progress.step(
        f"accuracy on {len(data.y_test)} test images: scikit-learn {sklearn_accuracy:.4f}, "
        f"FP32 v1 {accuracy['1']:.4f}, INT8 v2 {accuracy['2']:.4f}"
    )
    return {
        "model": name,
        "repository": str(repo),
        "test_rows": len(data.y_test),
        "accuracy": {"sklearn": sklearn_accuracy, "fp32": accuracy["1"], "int8": accuracy["2"]},
        "sha256": {
            "1": _digest(repo / name / "1" / MODEL_FILE),
            "2": _digest(repo / name / "2" / MODEL_FILE),
        },
        "int8_size_ratio": int8["size_ratio"],
    }

"""``openclaw-model convert``: a trained model file to a new ONNX version in a repository.

Sources: scikit-learn (joblib/pickle, via skl2onnx), PyTorch (TorchScript or a
pickled module, via torch.onnx), TensorFlow/Keras (via tf2onnx) and ONNX files.
The optional converters are imported only when their format is used, and a
missing one is reported with the package to install.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ... import __version__
from ...models.manifest import sha256_file
from ..errors import UsageError
from ..layout import ModelRef, next_version
from ..progress import Progress
from ..versions import DEFAULT_MAX_BATCH, write_version
from .signature import InputSpec, parse_input, specs_to_json

__all__ = ["DEFAULT_OPSET", "FORMATS", "InputSpec", "convert", "detect_format", "parse_input"]

DEFAULT_OPSET = 17  # runs on every onnxruntime >= 1.14, like the demo model
FORMATS = ("sklearn", "torch", "keras", "onnx")
_SUFFIXES = {
    ".joblib": "sklearn",
    ".pkl": "sklearn",
    ".pickle": "sklearn",
    ".pt": "torch",
    ".pth": "torch",
    ".keras": "keras",
    ".h5": "keras",
    ".onnx": "onnx",
}


def detect_format(src: Path) -> str:
    """Guess the source format from the file name (or a SavedModel directory)."""
    if src.is_dir():
        if (src / "saved_model.pb").exists():
            return "keras"
        raise UsageError(f"{src}: a directory, but not a TensorFlow SavedModel (no saved_model.pb)")
    fmt = _SUFFIXES.get(src.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(_SUFFIXES))
        raise UsageError(
            f"{src}: cannot tell the format from the suffix (known: {known}); pass --from FORMAT"
        )
    return fmt


def _sha256(path: Path) -> str | None:
    return sha256_file(path) if path.is_file() else None


def convert(
    src: Path,
    repo: Path,
    name: str,
    progress: Progress,
    *,
    version: int | None = None,
    fmt: str | None = None,
    inputs: list[InputSpec] | None = None,
    opset: int | None = None,
    trust_pickle: bool = False,
    max_batch_size: int = DEFAULT_MAX_BATCH,
    replace: bool = False,
) -> dict[str, Any]:
    """Convert ``src`` and install it as ``<repo>/<name>/<version>``; return a report."""
    if not src.exists():
        raise UsageError(f"{src}: no such file or directory")
    fmt = fmt or detect_format(src)
    specs = list(inputs or [])
    external = False
    progress.step(f"converting {src} ({fmt})")
    if fmt == "sklearn":
        from .sklearn import convert_sklearn_file

        model, specs, labels = convert_sklearn_file(
            src, specs, trust_pickle=trust_pickle, opset=opset or DEFAULT_OPSET
        )
    elif fmt == "torch":
        from .torch import convert_torch_file

        model, specs, labels = convert_torch_file(
            src, specs, trust_pickle=trust_pickle, opset=opset or DEFAULT_OPSET
        )
    elif fmt == "keras":
        from .keras import convert_keras_path

        model, specs, labels = convert_keras_path(
            src, specs, opset=opset or DEFAULT_OPSET, trust_pickle=trust_pickle
        )
    elif fmt == "onnx":
        from .onnxfile import convert_onnx_file

        model, specs, labels, external = convert_onnx_file(src, opset=opset)
    else:
        raise UsageError(f"--from {fmt!r}: choose one of {', '.join(FORMATS)}")
    progress.step(
        "input signature: " + ", ".join(str(s) for s in specs) + " (batch dimension dynamic)"
    )
    ref = ModelRef(repo, name)
    number = version or next_version(ref.model_dir)
    metadata = {
        "created_by": f"openclaw-model {__version__}",
        "command": "convert",
        "precision": "fp32",
        "source": {"path": str(src), "format": fmt, "sha256": _sha256(src)},
        "inputs": specs_to_json(specs),
    }
    result = write_version(
        ref.model_dir,
        number,
        model,
        progress,
        metadata=metadata,
        labels=labels,
        max_batch_size=max_batch_size,
        replace=replace,
        external_data=external,
    )
    opsets = {(i.domain or "ai.onnx"): i.version for i in model.opset_import}
    return {
        "model": name,
        "format": fmt,
        "signature": specs_to_json(specs),
        "opsets": opsets,
        **result,
    }

"""Write a new model version the way the runtime will load it.

Every version the toolchain creates goes through :func:`write_version`: the
runtime's own compatibility check and loader (:func:`models.session.load_version`)
are run on the staged files, so a version that lands in the repository is one
the runtime has already opened, validated against ``config.yaml`` and warmed up.
A model without a ``config.yaml`` gets one derived from the graph by that same
loader.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import yaml

from ..models.compat import check_compatibility
from ..models.modelconfig import CONFIG_NAME, load_model_config, parse_model_config
from .errors import UsageError
from .layout import (
    EXTERNAL_DATA_FILE,
    MODEL_FILE,
    REFERENCE_FILE,
    install_version,
    model_bytes,
    seal_version,
    staged_version,
)
from .progress import Progress

__all__ = ["DEFAULT_MAX_BATCH", "LABELS_FILE", "config_document", "open_version", "write_version"]

DEFAULT_MAX_BATCH = 32  # the guide's batch_size: 32
LABELS_FILE = "labels.txt"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def config_document(loaded: Any, *, labels: bool) -> dict[str, Any]:
    """Return config.yaml content for a version the runtime loaded (its resolved I/O)."""
    cfg = loaded.config

    def specs(items):
        return [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in items]

    doc: dict[str, Any] = {
        "platform": cfg.platform,
        "max_batch_size": cfg.max_batch_size,
        "inputs": specs(cfg.inputs),
        "outputs": specs(cfg.outputs),
        "version_policy": {"latest": 1},
        "load": "startup",
    }
    if labels:
        doc["labels"] = LABELS_FILE
    return doc


def open_version(model_dir: Path, version: int):
    """Open a version with the runtime's loader (one intra-op thread, as served), no checksums."""
    from ..models.session import SessionOptions, load_version

    config = load_model_config(model_dir)
    return load_version(model_dir, version, config, SessionOptions(verify_checksums=False))


def _load_staged(model_dir: Path, staging: Path, config):
    from ..models.session import SessionOptions, load_version

    # The loader addresses versions as <model_dir>/<version>; the staging directory is one.
    return load_version(model_dir, staging.name, config, SessionOptions(verify_checksums=False))  # type: ignore[arg-type]


def write_version(
    model_dir: Path,
    version: int,
    model: onnx.ModelProto,
    progress: Progress,
    *,
    metadata: dict[str, Any],
    reference: np.ndarray | dict[str, np.ndarray] | None = None,
    labels: list[str] | None = None,
    max_batch_size: int = DEFAULT_MAX_BATCH,
    replace: bool = False,
    external_data: bool = False,
) -> dict[str, Any]:
    """Check, stage, load-test, seal and install ``model`` as ``<model_dir>/<version>``.

    With ``external_data`` the weights go to ``model.onnx.data`` next to the
    model (ONNX external data), inside the version, so its manifest covers them.
    """
    if (model_dir / str(version)).exists() and not replace:
        raise UsageError(f"{model_dir / str(version)}: version {version} exists; pass --replace")
    check_compatibility(model, source=f"{model_dir.name} version {version}")
    with staged_version(model_dir) as staging:
        if external_data:
            onnx.save_model(
                model,
                str(staging / MODEL_FILE),
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=EXTERNAL_DATA_FILE,
            )
            data = staging / EXTERNAL_DATA_FILE
            if data.exists():  # none when every tensor is under onnx's size threshold
                # onnx creates the data file 0600; give it the model file's mode.
                data.chmod((staging / MODEL_FILE).stat().st_mode & 0o777)
        else:
            onnx.save(model, str(staging / MODEL_FILE))
        if reference is not None:
            arrays = reference if isinstance(reference, dict) else {"input": reference}
            np.savez_compressed(staging / REFERENCE_FILE, **arrays)
        config_path = model_dir / CONFIG_NAME
        created_config = not config_path.exists()
        if created_config:
            minimal = parse_model_config({"max_batch_size": max_batch_size}, name=model_dir.name)
            loaded = _load_staged(model_dir, staging, minimal)
            labels_path = model_dir / LABELS_FILE
            if labels and not labels_path.exists():
                _atomic_write(labels_path, "\n".join(labels) + "\n")
            doc = config_document(loaded, labels=bool(labels))
            _atomic_write(config_path, yaml.safe_dump(doc, sort_keys=False))
            progress.step(f"wrote {config_path} (I/O taken from the graph)")
        progress.step(
            "loading the staged version with the runtime's loader (I/O vs config.yaml, warm-up)"
        )
        loaded = _load_staged(model_dir, staging, load_model_config(model_dir))
        seal_version(staging, metadata)
        target = install_version(staging, model_dir, version, replace=replace)
    progress.step(f"installed {target}")
    io = config_document(loaded, labels=False)
    return {
        "path": str(target),
        "version": version,
        "config": str(config_path),
        "config_created": created_config,
        "inputs": io["inputs"],
        "outputs": io["outputs"],
        "bytes": model_bytes(target),
        "external_data": external_data,
    }

"""Model repository: layout, manifests, config.yaml, compatibility, loading, memory budget.

``check_compatibility`` and ``runtime_support`` import the onnx package, so they
are loaded on first use: worker processes never need onnx in memory.
"""

from __future__ import annotations

from typing import Any

from .manifest import MANIFEST_NAME, compute_digests, verify_manifest, write_manifest
from .modelconfig import CONFIG_NAME, ModelConfig, TensorSpec, load_model_config

__all__ = [
    "CONFIG_NAME",
    "MANIFEST_NAME",
    "ModelConfig",
    "TensorSpec",
    "check_compatibility",
    "compute_digests",
    "load_model_config",
    "runtime_support",
    "verify_manifest",
    "write_manifest",
]


def __getattr__(name: str) -> Any:
    if name in ("check_compatibility", "runtime_support"):
        from . import compat

        return getattr(compat, name)
    raise AttributeError(name)

"""Model repository: layout, manifests, config.yaml, compatibility, loading, memory budget."""

from .compat import check_compatibility, runtime_support
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

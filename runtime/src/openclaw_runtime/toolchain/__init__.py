"""The model toolchain behind ``openclaw-model``: convert, quantize, verify, bench, publish, fetch.

It builds on the runtime's model repository code (manifests, config.yaml,
compatibility check, loader, demo builder) and adds no second copy of it.
Heavy and optional dependencies (skl2onnx, torch, tf2onnx, boto3) are imported
only by the command that needs them.
"""

from __future__ import annotations

from .errors import ToolchainError
from .layout import ModelRef, parse_ref

__all__ = ["ModelRef", "ToolchainError", "parse_ref"]

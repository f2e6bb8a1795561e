"""Replace the demo model's files, same version number, with a model that answers otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
from onnx import numpy_helper

from openclaw_runtime.models.manifest import write_manifest

__all__ = ["BODY", "favouring", "label_of", "replace_model"]

# One digits image; the demo model classifies it, a replacement from favouring() otherwise.
BODY = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [0.25] * 64}]}


def favouring(onnx_bytes: bytes, label: int) -> bytes:
    """Return the demo model with its output bias raised so that it answers ``label`` to all."""
    model = onnx.load_from_string(onnx_bytes)
    (bias,) = [t for t in model.graph.initializer if t.name == "digits_intercepts1"]
    values = numpy_helper.to_array(bias).copy()
    values[..., label] += 1000.0
    bias.CopyFrom(numpy_helper.from_array(values, bias.name))
    return model.SerializeToString()


def replace_model(version_dir: Path, onnx_bytes: bytes) -> None:
    """Publish new model bytes in place, then the manifest (as a publisher would)."""
    (version_dir / "model.onnx").write_bytes(onnx_bytes)
    write_manifest(version_dir)


def label_of(response: bytes | dict) -> int:
    """Return the ``label`` output of an inference response (body or decoded JSON)."""
    doc = json.loads(response) if isinstance(response, bytes) else response
    (label,) = [o for o in doc["outputs"] if o["name"] == "label"]
    return label["data"][0]

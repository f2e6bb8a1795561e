"""Helpers for the runtime tests: tiny ONNX graphs and repository writers."""

from __future__ import annotations

from pathlib import Path

from onnx import TensorProto, helper

from openclaw_runtime.models.manifest import write_manifest


def small_model(*, opset: int = 17, ir_version: int | None = None, width: int = 4) -> bytes:
    """Return an ONNX graph y = x + 1 over [batch, width] FP32 with the given opset/IR."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", width])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"])], "add1", [x], [y], [one]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version or 8
    return model.SerializeToString()


def add_model(repo: Path, name: str, version: int, onnx_bytes: bytes, config: str) -> Path:
    """Write a model version with its manifest and config.yaml; return the version dir."""
    vdir = repo / name / str(version)
    vdir.mkdir(parents=True, exist_ok=True)
    (vdir / "model.onnx").write_bytes(onnx_bytes)
    write_manifest(vdir)
    (repo / name / "config.yaml").write_text(config)
    return vdir


ADD_CONFIG = """\
max_batch_size: 8
inputs: [{name: x, datatype: FP32, shape: [4]}]
outputs: [{name: y, datatype: FP32, shape: [4]}]
"""

"""A compute-bound reference model for ``bench --mlp``: a plain MLP built with onnx.helper.

With 1024-1024-512 layers, the matrix multiplications dominate the run time,
which is the case INT8 kernels speed up; the small demo model is dominated by
per-call overhead instead, so INT8 gains little there.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import __version__
from .progress import Progress
from .versions import write_version

__all__ = ["DEFAULT_DIMS", "build_mlp", "mlp_model"]

DEFAULT_DIMS = (1024, 1024, 512)
SEED = 7


def mlp_model(dims: tuple[int, ...] = DEFAULT_DIMS, *, seed: int = SEED) -> onnx.ModelProto:
    """Return an FP32 MLP ``dims[0] -> dims[1] -> ... -> dims[-1]`` with ReLU between layers."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    current = "input"
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(dims)):
        weight = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32)
        bias = (rng.standard_normal(fan_out) * 0.01).astype(np.float32)
        inits += [numpy_helper.from_array(weight, f"w{i}"), numpy_helper.from_array(bias, f"b{i}")]
        last = i == len(dims) - 2
        nodes.append(helper.make_node("MatMul", [current, f"w{i}"], [f"mm{i}"]))
        nodes.append(
            helper.make_node("Add", [f"mm{i}", f"b{i}"], ["output" if last else f"pre{i}"])
        )
        if not last:
            nodes.append(helper.make_node("Relu", [f"pre{i}"], [f"act{i}"]))
            current = f"act{i}"
    graph = helper.make_graph(
        nodes,
        "openclaw_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", dims[0]])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", dims[-1]])],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="openclaw-model"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def build_mlp(
    repo: Path, progress: Progress, *, dims: tuple[int, ...] = DEFAULT_DIMS, name: str = "mlp"
) -> int:
    """Write the MLP as version 1 of ``<repo>/<name>`` (max_batch_size 128) with reference data."""
    rng = np.random.default_rng(SEED + 1)
    reference = rng.random((256, dims[0]), dtype=np.float32)
    write_version(
        repo / name,
        1,
        mlp_model(dims),
        progress,
        metadata={
            "created_by": f"openclaw-model {__version__}",
            "command": "bench --mlp",
            "precision": "fp32",
        },
        reference=reference,
        max_batch_size=128,
    )
    return 1

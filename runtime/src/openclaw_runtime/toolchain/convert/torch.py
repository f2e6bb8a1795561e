"""PyTorch modules (TorchScript archives, or pickled ``nn.Module`` files) to ONNX via torch.onnx."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import onnx

from ..errors import ConversionError, MissingDependency, UnsafeInput
from .signature import InputSpec

__all__ = ["convert_torch_file", "export_module"]

_WHY = (
    "a pickled torch module runs arbitrary Python code while it is loaded; pass --trust-pickle "
    "only for files you trust (TorchScript archives from torch.jit.save load without it)"
)


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise MissingDependency("torch", "converting PyTorch models") from exc
    return torch


def _load(path: Path, trust_pickle: bool) -> Any:
    torch = _torch()
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception:
        pass
    if not trust_pickle:
        raise UnsafeInput(f"{path}: not a TorchScript archive; refusing to unpickle it: {_WHY}")
    try:
        module = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ConversionError(f"{path}: torch.load failed: {exc}") from exc
    if not isinstance(module, torch.nn.Module):
        raise ConversionError(
            f"{path}: holds a {type(module).__name__} (a state_dict?); save the whole module "
            "with torch.save(model) or torch.jit.save(torch.jit.script(model), path)"
        )
    return module


def _infer(module: Any) -> InputSpec:
    """Take the input width from the first weight matrix (a Linear layer's [out, in])."""
    for name, param in module.named_parameters():
        if name.endswith("weight"):
            if param.dim() == 2:
                return InputSpec("input", "FP32", (int(param.shape[1]),))
            break
    raise ConversionError(
        "cannot infer the input shape of this module (its first layer is not Linear); "
        "give it with --input input:FP32:DIMS"
    )


def export_module(module: Any, specs: list[InputSpec], *, opset: int) -> onnx.ModelProto:
    """Export an ``nn.Module`` with a dynamic batch dimension and return the ONNX model."""
    torch = _torch()
    module.eval()
    args = tuple(torch.from_numpy(s.example()) for s in specs)
    names = [s.name for s in specs]
    with torch.no_grad():
        outputs = module(*args)
    count = len(outputs) if isinstance(outputs, tuple | list) else 1
    out_names = ["output"] if count == 1 else [f"output_{i}" for i in range(count)]
    axes = {n: {0: "batch"} for n in [*names, *out_names]}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # The TorchScript-based exporter needs no extra package (dynamo needs onnxscript).
            torch.onnx.export(
                module,
                args,
                buffer,
                input_names=names,
                output_names=out_names,
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
            )
        except Exception as exc:
            raise ConversionError(f"torch.onnx.export failed: {exc}") from exc
    return onnx.load_from_string(buffer.getvalue())


def convert_torch_file(
    path: Path, specs: list[InputSpec], *, trust_pickle: bool, opset: int
) -> tuple[onnx.ModelProto, list[InputSpec], None]:
    """Return the ONNX model and the input signature used."""
    module = _load(path, trust_pickle)
    specs = specs or [_infer(module)]
    return export_module(module, specs, opset=opset), specs, None

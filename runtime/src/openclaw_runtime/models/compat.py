"""Is an ONNX model runnable by the installed onnxruntime? (opset and IR version)

The supported maxima are read from onnxruntime itself (the operator schemas
it was built with) and mapped to an IR version through onnx's release table,
so no hand-kept table goes stale.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import onnx

from ..errors import IncompatibleModel

__all__ = ["Support", "check_compatibility", "model_requirements", "runtime_support"]


@dataclass(frozen=True, slots=True)
class Support:
    """What the installed onnxruntime supports."""

    onnxruntime_version: str
    max_ir_version: int
    max_opsets: dict[str, int]


@functools.cache
def runtime_support() -> Support:
    """Return the maximum IR version and opset per domain of the installed onnxruntime."""
    import onnxruntime
    from onnxruntime.capi import onnxruntime_pybind11_state as capi

    opsets: dict[str, int] = {}
    for schema in capi.get_all_operator_schema():
        opsets[schema.domain] = max(opsets.get(schema.domain, 0), schema.since_version)
    default = opsets.get("", 0)
    ir = 0
    for _release, ir_version, ai_onnx, *_rest in onnx.helper.VERSION_TABLE:
        if ai_onnx <= default:
            ir = max(ir, ir_version)
    return Support(onnxruntime.__version__, ir, opsets)


def model_requirements(model: onnx.ModelProto) -> tuple[int, dict[str, int]]:
    """Return the model's IR version and its opset per domain ('' = ai.onnx)."""
    opsets = {
        (imp.domain if imp.domain != "ai.onnx" else ""): imp.version for imp in model.opset_import
    }
    return model.ir_version, opsets


def _needed_release(ir: int, opset: int) -> str | None:
    for release, ir_version, ai_onnx, *_rest in onnx.helper.VERSION_TABLE:
        if ir_version >= ir and ai_onnx >= opset:
            return release
    return None


def check_compatibility(model: onnx.ModelProto, *, source: str = "model") -> None:
    """Raise IncompatibleModel naming what the model needs and what is installed."""
    support = runtime_support()
    ir, opsets = model_requirements(model)
    problems = []
    if ir > support.max_ir_version:
        problems.append(f"IR version {ir} > supported {support.max_ir_version}")
    for domain, version in sorted(opsets.items()):
        known = support.max_opsets.get(domain)
        label = domain or "ai.onnx"
        if known is None:
            problems.append(f"opset domain {label!r} is unknown to onnxruntime")
        elif version > known:
            problems.append(f"{label} opset {version} > supported {known}")
    if problems:
        release = _needed_release(ir, opsets.get("", 0))
        hint = (
            f"; it needs an onnxruntime built for onnx >= {release}"
            if release
            else "; no known onnx release supports it"
        )
        raise IncompatibleModel(
            f"{source}: not supported by onnxruntime {support.onnxruntime_version}: "
            + ", ".join(problems)
            + hint
            + " (or re-export the model with a lower target opset)"
        )

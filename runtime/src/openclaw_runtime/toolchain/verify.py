"""``openclaw-model verify``: would the runtime load this version, and is INT8 close to FP32?

Checks per version, in order (a failed integrity check skips the rest):
manifest (SHA-256), opset/IR vs the installed onnxruntime, ONNX checker, the
runtime's own loader (I/O against ``config.yaml`` and a warm-up run), and for
an INT8 version the parity against its FP32 parent on the reference data:
top-1 agreement and the largest absolute difference of the float outputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import onnx

from ..errors import OpenClawError
from ..models.compat import check_compatibility, model_requirements, runtime_support
from ..models.manifest import external_data_files, verify_manifest
from .data import rows, synthetic_inputs, take
from .errors import VerificationFailed
from .layout import MODEL_FILE, REFERENCE_FILE, ModelRef, list_versions, read_metadata
from .progress import Progress
from .versions import open_version

__all__ = ["Thresholds", "parity", "verify"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Limits of INT8-vs-FP32 parity; beyond them ``verify`` fails."""

    min_top1: float = 0.98
    max_abs_error: float = 0.1


@dataclass
class Check:
    """One check of one version."""

    name: str
    ok: bool | None  # None = skipped
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


def _load(ref: ModelRef, version: int):
    return open_version(ref.model_dir, version)


def _run(loaded, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    step = max(loaded.config.max_batch_size, 1) if loaded.config.max_batch_size else rows(arrays)
    parts = [loaded.run(take(arrays, i, i + step)) for i in range(0, rows(arrays), step)]
    return [np.concatenate([p[k] for p in parts]) for k in range(len(loaded.output_names))]


def _top1(outputs: list[np.ndarray], names: list[str]) -> tuple[str, np.ndarray] | None:
    """Pick the classification output: an integer label vector, else a 2-D float score matrix."""
    for name, out in zip(names, outputs, strict=True):
        if out.dtype.kind in "iu" and out.ndim == 1:
            return name, out
    for name, out in zip(names, outputs, strict=True):
        if out.dtype.kind == "f" and out.ndim == 2 and out.shape[1] > 1:
            return name, out.argmax(axis=1)
    return None


def parity(ref: ModelRef, parent: int, child: int, thresholds: Thresholds) -> Check:
    """Compare an INT8 version with its FP32 parent on the child's reference data."""
    fp32, int8 = _load(ref, parent), _load(ref, child)
    reference = ref.model_dir / str(child) / REFERENCE_FILE
    if reference.exists():
        with np.load(reference) as saved:
            arrays = {k: saved[k] for k in saved.files}
        source = f"{REFERENCE_FILE} ({rows(arrays)} rows)"
    else:
        arrays = synthetic_inputs(fp32.config, 256)
        source = (
            "256 synthetic rows (no reference.npz: "
            "quantize with --calibration DATA for a meaningful check)"
        )
    a, b = _run(fp32, arrays), _run(int8, arrays)
    errors = {
        name: float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64))))
        for name, x, y in zip(fp32.output_names, a, b, strict=True)
        if x.dtype.kind == "f"
    }
    max_err = max(errors.values(), default=0.0)
    picked_a, picked_b = _top1(a, fp32.output_names), _top1(b, int8.output_names)
    agreement = float(np.mean(picked_a[1] == picked_b[1])) if picked_a and picked_b else None
    data = {
        "parent_version": parent,
        "reference": source,
        "top1_agreement": agreement,
        "top1_output": picked_a[0] if picked_a else None,
        "max_abs_error": max_err,
        "max_abs_error_by_output": errors,
        "thresholds": asdict(thresholds),
    }
    problems = []
    if agreement is not None and agreement < thresholds.min_top1:
        problems.append(f"top-1 agreement {agreement:.4f} < {thresholds.min_top1}")
    if max_err > thresholds.max_abs_error:
        problems.append(f"max abs error {max_err:.4g} > {thresholds.max_abs_error}")
    top = (
        f"top-1 agreement {agreement:.4f}" if agreement is not None else "no classification output"
    )
    detail = f"vs FP32 version {parent} on {source}: {top}, max abs error {max_err:.4g}"
    if problems:
        detail += "; FAILED: " + ", ".join(problems)
    return Check("parity", not problems, detail, data)


def _verify_version(ref: ModelRef, version: int, thresholds: Thresholds) -> list[Check]:
    version_dir = ref.model_dir / str(version)
    checks: list[Check] = []

    def attempt(name: str, func) -> bool:
        try:
            detail = func()
        except OpenClawError as exc:
            checks.append(Check(name, False, exc.message))
            return False
        except Exception as exc:
            checks.append(Check(name, False, f"{type(exc).__name__}: {exc}"))
            return False
        checks.append(Check(name, True, detail))
        return True

    holder: dict[str, onnx.ModelProto] = {}

    def manifest() -> str:
        listed = verify_manifest(version_dir)
        external = external_data_files(version_dir / MODEL_FILE)
        unlisted = [name for name in external if name not in listed]
        if unlisted:
            raise VerificationFailed(f"external data {unlisted} not listed in SHA256SUMS")
        tail = f", external data {', '.join(external)} among them" if external else ""
        return f"{len(listed)} files match SHA256SUMS{tail}"

    def checker() -> str:
        # By path, so external data is looked up next to the model file.
        onnx.checker.check_model(str(version_dir / MODEL_FILE))
        return "valid ONNX"

    def compat() -> str:
        # Before the checker: an onnx package older than the model fails there with a
        # vaguer message than the versions named here.
        holder["model"] = onnx.load(str(version_dir / MODEL_FILE), load_external_data=False)
        ir, opsets = model_requirements(holder["model"])
        support = runtime_support()
        check_compatibility(holder["model"], source=f"{ref.name} version {version}")
        used = ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in sorted(opsets.items()))
        return (
            f"IR {ir}, opsets {used}; onnxruntime {support.onnxruntime_version} supports "
            f"IR <= {support.max_ir_version}, ai.onnx <= {support.max_opsets.get('', 0)}"
        )

    def load() -> str:
        loaded = _load(ref, version)
        io = ", ".join(f"{t.name}:{t.datatype}{list(t.shape)}" for t in loaded.config.inputs)
        return f"loads and warms up; inputs {io} match config.yaml"

    steps = [
        ("manifest", manifest),
        ("compatibility", compat),
        ("onnx_checker", checker),
        ("load", load),
    ]
    for name, func in steps:
        if not attempt(name, func):
            break
    else:
        meta = read_metadata(version_dir)
        parent = meta.get("parent_version")
        if meta.get("precision") == "int8" and parent is not None:
            if parent not in list_versions(ref.model_dir):
                checks.append(
                    Check("parity", False, f"FP32 parent version {parent} is not in the repository")
                )
            else:
                try:
                    checks.append(parity(ref, parent, version, thresholds))
                except OpenClawError as exc:
                    checks.append(Check("parity", False, exc.message))
    return checks


def verify(
    ref: ModelRef, progress: Progress, thresholds: Thresholds = Thresholds()
) -> dict[str, Any]:
    """Verify one or every version; return the report, raise VerificationFailed on a failure."""
    versions = [ref.version] if ref.version is not None else list_versions(ref.model_dir)
    if not versions:
        raise VerificationFailed(f"{ref.model_dir}: no versions to verify")
    report: dict[str, Any] = {"model": ref.name, "repository": str(ref.repo), "versions": []}
    for version in versions:
        progress.step(f"verifying {ref.name} version {version}")
        checks = _verify_version(ref, version, thresholds)
        for check in checks:
            progress.step(f"  {check.name}: {'ok' if check.ok else 'FAILED'}: {check.detail}")
        ok = all(c.ok for c in checks)
        report["versions"].append(
            {"version": version, "ok": ok, "checks": [asdict(c) for c in checks]}
        )
    report["ok"] = all(v["ok"] for v in report["versions"])
    if not report["ok"]:
        bad = [str(v["version"]) for v in report["versions"] if not v["ok"]]
        raise VerificationFailed(
            f"{ref.model_dir}: version(s) {', '.join(bad)} failed verification", report
        )
    return report

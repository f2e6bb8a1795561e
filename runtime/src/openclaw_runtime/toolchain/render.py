"""Human-readable output of ``openclaw-model`` commands (``--json`` prints the raw report)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["render"]


def _bench(report: dict[str, Any]) -> list[str]:
    versions = report["versions"]
    head = f"{'batch':>5}"
    for v in versions:
        head += f" | v{v} {report['precision'][str(v)]:<5} rows/s   p50 ms   p99 ms"
    if report.get("against") is not None:
        head += " | speed-up wall  cpu"
    lines = [
        f"{report['model']}: in-process, {report['intra_op_threads']} onnxruntime intra-op thread",
        head,
    ]
    for row in report["results"]:
        line = f"{row['batch']:>5}"
        for v in versions:
            cell = row[str(v)]
            line += f" | {'':10}{cell['rows_per_s']:>10.0f}"
            line += f" {cell['p50_ms']:>8.3f} {cell['p99_ms']:>8.3f}"
        if "speedup" in row:
            line += f" | {row['speedup']:>12.2f}x {row['speedup_cpu']:>4.2f}x"
        lines.append(line)
    return lines


def _verify(report: dict[str, Any]) -> list[str]:
    lines = []
    for entry in report["versions"]:
        lines.append(
            f"{report['model']} version {entry['version']}: {'OK' if entry['ok'] else 'FAILED'}"
        )
        for check in entry["checks"]:
            mark = "ok  " if check["ok"] else "FAIL"
            lines.append(f"  [{mark}] {check['name']}: {check['detail']}")
    return lines


def _bench_text(report: dict[str, Any]) -> str:
    lines = []
    for part in report.get("models", [report]):
        lines += _bench(part)
    if "note" in report:
        lines.append(report["note"])
    return "\n".join(lines)


def _convert(report: dict[str, Any]) -> str:
    sig = ", ".join(
        f"{s['name']}:{s['datatype']}:{'x'.join(map(str, s['shape']))}" for s in report["signature"]
    )
    return f"converted to {report['path']} (signature {sig}; opsets {report['opsets']})"


def _quantize(report: dict[str, Any]) -> str:
    return (
        f"INT8 ({report['mode']}) version {report['version']} of {report['model']}: "
        f"{report['path']} ({report['size_ratio']:.2f}x the FP32 size); "
        f"check it with: openclaw-model verify {report['path']}"
    )


def _build_demo(report: dict[str, Any]) -> str:
    acc = report["accuracy"]
    return (
        f"{report['repository']}/{report['model']}: version 1 FP32 accuracy {acc['fp32']:.4f}, "
        f"version 2 INT8 accuracy {acc['int8']:.4f} (scikit-learn {acc['sklearn']:.4f}, "
        f"{report['test_rows']} test images)"
    )


def _publish(report: dict[str, Any]) -> str:
    return (
        f"published {report['url']} ({report['bytes']} bytes; "
        f"manifest sha256 {report['manifest_sha256']})"
    )


def _fetch(report: dict[str, Any]) -> str:
    state = "already present, unchanged" if report["unchanged"] else "installed"
    size = report["bytes"]
    return f"{report['path']}: {state} ({size} bytes verified; config {report['config']})"


_RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "bench": _bench_text,
    "verify": lambda report: "\n".join(_verify(report)),
    "convert": _convert,
    "quantize": _quantize,
    "build-demo": _build_demo,
    "publish": _publish,
    "fetch": _fetch,
}


def render(command: str, report: dict[str, Any]) -> str:
    """Return the text printed for ``report`` when ``--json`` is not given."""
    renderer = _RENDERERS.get(command)
    if renderer is not None:
        return renderer(report)
    return "\n".join(f"{k}: {v}" for k, v in report.items())

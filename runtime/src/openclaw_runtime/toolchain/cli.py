"""``openclaw-model``: convert, quantize, verify, bench, publish, fetch and build-demo.

Every command prints a summary (or the full report with ``--json``) on stdout,
progress on stderr, and exits with a code scripts can rely on (see
:mod:`.errors`): 0 ok, 1 verification failed, 2 usage, 3 model, 4 missing
package, 5 store/transfer, 70 bug.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import OpenClawError
from .errors import EXIT_INTERNAL, EXIT_MODEL, EXIT_OK, UsageError, VerificationFailed
from .progress import Progress
from .render import render

__all__ = ["build_parser", "main"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print the full report as JSON on stdout"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _add_convert(sub: Any, formats: Sequence[str]) -> None:
    p = sub.add_parser("convert", help="convert a trained model to a new ONNX version")
    p.add_argument(
        "src", type=Path, help="model file (.joblib/.pkl, .pt, .keras/.h5, .onnx) or SavedModel dir"
    )
    p.add_argument("--to", dest="repo", type=Path, required=True, help="model repository directory")
    p.add_argument("--name", required=True, help="model name (directory under the repository)")
    p.add_argument("--version", type=int, help="version number (default: next free)")
    p.add_argument(
        "--from", dest="fmt", choices=formats, help="source format (default: from the suffix)"
    )
    p.add_argument(
        "--input",
        dest="inputs",
        action="append",
        default=[],
        metavar="NAME:DATATYPE:DIMS",
        help="input signature without the batch dim, e.g. input:FP32:64 (repeat per input)",
    )
    p.add_argument("--opset", type=int, help="target ai.onnx opset (ONNX sources: upgrade to it)")
    p.add_argument(
        "--max-batch-size", type=int, default=32, help="config.yaml max_batch_size for a new model"
    )
    p.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow inputs whose loading can run code from them: pickle/joblib files, "
        "pickled torch modules, legacy Keras .h5 and TensorFlow SavedModel directories",
    )
    p.add_argument("--replace", action="store_true", help="replace an existing version")
    _common(p)


def _add_bench(sub: Any) -> None:
    p = sub.add_parser("bench", help="in-process throughput/latency, versions side by side")
    p.add_argument("model", nargs="?", help="REPO/NAME/VERSION (omit with --mlp)")
    p.add_argument(
        "--against", type=int, help="version to compare with (default: the INT8 version's parent)"
    )
    p.add_argument(
        "--batch", dest="batches", type=int, action="append", help="batch size (repeatable)"
    )
    p.add_argument(
        "--seconds", type=float, default=1.0, help="measuring time per version and batch size"
    )
    p.add_argument(
        "--mlp",
        action="store_true",
        help="also bench a compute-bound 1024-1024-512 MLP, FP32 vs INT8",
    )
    p.add_argument(
        "--mlp-dims",
        default="1024,1024,512",
        metavar="N,N,...",
        help="layer widths of the --mlp model (input first)",
    )
    _common(p)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``openclaw-model``."""
    from .convert import FORMATS
    from .transfer import DEFAULT_MAX_BYTES

    parser = argparse.ArgumentParser(
        prog="openclaw-model",
        description="Convert, quantize, verify, bench, publish and fetch models of an "
        "OpenClaw model repository.",
        epilog="Exit codes: 0 ok, 1 verification failed, 2 usage, 3 model, "
        "4 missing package, 5 store/transfer, 70 bug.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_convert(sub, FORMATS)

    p = sub.add_parser("quantize", help="quantize an FP32 version to INT8 as a new version")
    p.add_argument("--model", required=True, help="REPO/NAME/VERSION of the FP32 version")
    p.add_argument("--mode", choices=("dynamic", "static"), default="dynamic")
    p.add_argument(
        "--calibration",
        type=Path,
        help=".npy/.npz file or folder (static: required; dynamic: kept as parity reference)",
    )
    p.add_argument(
        "--version", type=int, help="version number of the INT8 model (default: next free)"
    )
    p.add_argument("--per-channel", action="store_true", help="per-channel weight scales")
    p.add_argument("--replace", action="store_true", help="replace an existing version")
    _common(p)

    p = sub.add_parser("verify", help="check versions: manifest, ONNX, opset, I/O, INT8 parity")
    p.add_argument("model", help="REPO/NAME (every version) or REPO/NAME/VERSION")
    p.add_argument("--min-top1", type=float, default=0.98, help="minimum INT8/FP32 top-1 agreement")
    p.add_argument(
        "--max-abs-error", type=float, default=0.1, help="maximum INT8/FP32 absolute difference"
    )
    _common(p)

    _add_bench(sub)

    p = sub.add_parser("publish", help="upload a version to a model store")
    p.add_argument("model", help="REPO/NAME/VERSION")
    p.add_argument(
        "--to", dest="url", required=True, help="store URL: file://, http(s)://, s3://, oss://"
    )
    _common(p)

    p = sub.add_parser("fetch", help="download a published version into a repository")
    p.add_argument("url", help="<store>/<name>/<version>")
    p.add_argument("--to", dest="repo", type=Path, required=True, help="model repository directory")
    p.add_argument("--version", type=int, help="install under another version number")
    p.add_argument(
        "--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="refuse versions larger than this"
    )
    p.add_argument(
        "--manifest-sha256",
        help="expected SHA-256 of the published SHA256SUMS, printed by publish; it covers every "
        "file of the version, config.yaml and labels (required for plain http:// stores)",
    )
    p.add_argument("--replace", action="store_true", help="replace a different installed version")
    _common(p)

    p = sub.add_parser("build-demo", help="rebuild the digits demo model, FP32 (v1) and INT8 (v2)")
    p.add_argument("--to", dest="repo", type=Path, required=True, help="model repository directory")
    p.add_argument("--name", default="digits")
    _common(p)
    return parser


def _convert(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    from .convert import convert, parse_input

    return convert(
        args.src,
        args.repo,
        args.name,
        progress,
        version=args.version,
        fmt=args.fmt,
        inputs=[parse_input(text) for text in args.inputs],
        opset=args.opset,
        trust_pickle=args.trust_pickle,
        max_batch_size=args.max_batch_size,
        replace=args.replace,
    )


def _quantize(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    from .layout import parse_ref
    from .quantize import quantize

    return quantize(
        parse_ref(args.model, version="required"),
        args.mode,
        progress,
        data=args.calibration,
        version=args.version,
        per_channel=args.per_channel,
        replace=args.replace,
    )


def _verify(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    from .layout import parse_ref
    from .verify import Thresholds, verify

    return verify(parse_ref(args.model), progress, Thresholds(args.min_top1, args.max_abs_error))


def _publish(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    from .layout import parse_ref
    from .transfer import publish

    return publish(parse_ref(args.model, version="required"), args.url, progress)


def _fetch(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    from .transfer import fetch

    return fetch(
        args.url,
        args.repo,
        progress,
        version=args.version,
        max_bytes=args.max_bytes,
        manifest_sha256=args.manifest_sha256,
        replace=args.replace,
    )


def _build_demo(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    from .demo import build_demo

    return build_demo(args.repo, progress, name=args.name)


def _run(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    return _COMMANDS[args.command](args, progress)


def _bench(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    from .bench import BATCH_SIZES, bench
    from .layout import ModelRef, parse_ref

    batches = tuple(args.batches or BATCH_SIZES)
    if not args.model and not args.mlp:
        raise UsageError("bench needs REPO/NAME/VERSION, --mlp, or both")
    reports = []
    if args.model:
        ref = parse_ref(args.model, version="latest")
        reports.append(
            bench(ref, progress, against=args.against, batch_sizes=batches, seconds=args.seconds)
        )
    if args.mlp:
        from .mlp import build_mlp
        from .quantize import quantize

        try:
            dims = tuple(int(d) for d in args.mlp_dims.split(","))
        except ValueError:
            dims = ()
        if len(dims) < 2 or min(dims) < 1:
            raise UsageError(
                f"--mlp-dims {args.mlp_dims!r}: give at least two widths, e.g. 1024,1024,512"
            )
        with tempfile.TemporaryDirectory() as tmp:
            shape = "-".join(map(str, dims))
            progress.step(f"building the {shape} MLP (FP32) and its dynamic INT8 version")
            build_mlp(Path(tmp), progress, dims=dims)
            quantize(ModelRef(Path(tmp), "mlp", 1), "dynamic", progress)
            reports.append(
                bench(
                    ModelRef(Path(tmp), "mlp", 2),
                    progress,
                    batch_sizes=batches,
                    seconds=args.seconds,
                )
            )
    return {
        "models": reports,
        "note": (
            "rows/s = batch / median call time; speed-up wall = ratio of those, "
            "cpu = ratio of rows per CPU-second of the calling thread (alternating rounds)"
        ),
    }


_COMMANDS: dict[str, Callable[[argparse.Namespace, Progress], dict[str, Any]]] = {
    "convert": _convert,
    "quantize": _quantize,
    "verify": _verify,
    "bench": _bench,
    "publish": _publish,
    "fetch": _fetch,
    "build-demo": _build_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``openclaw-model`` command and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    progress = Progress(args.command, quiet=args.quiet)
    try:
        report = _run(args, progress)
        code = EXIT_OK
    except VerificationFailed as exc:
        report, code = exc.report or {"error": exc.message}, exc.exit_code
        print(f"openclaw-model {args.command}: {exc.message}", file=sys.stderr)
    except OpenClawError as exc:
        code = getattr(exc, "exit_code", EXIT_MODEL)
        print(f"openclaw-model {args.command}: error: {exc.message}", file=sys.stderr)
        if args.json:
            print(
                json.dumps({"ok": False, "error": exc.message, "code": exc.code, "exit_code": code})
            )
        return code
    except KeyboardInterrupt:
        print(f"openclaw-model {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        return EXIT_INTERNAL
    if isinstance(report, dict):
        report.setdefault("ok", code == EXIT_OK)
    print(json.dumps(report, indent=2, default=str) if args.json else render(args.command, report))
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

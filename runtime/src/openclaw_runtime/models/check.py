"""The ONNX checks of a model file (parse, opset/IR compatibility, ONNX checker).

Workers run them in a short-lived child process (``python -m
openclaw_runtime.models.check FILE``): the onnx package and the parsed graph
then never occupy the worker's memory (about 15 MB per worker), and a crash in
the checker cannot take a worker down.
"""

from __future__ import annotations

import json
import subprocess
import sys

from ..errors import IncompatibleModel, ModelLoadError

__all__ = ["check_model_file", "check_model_file_isolated"]


def check_model_file(path: str, source: str) -> None:
    """Parse the model, check opset/IR against onnxruntime, run the ONNX checker (in-process)."""
    import onnx

    from .compat import check_compatibility
    from .manifest import external_data_files

    try:
        proto = onnx.load(path, load_external_data=False)
    except Exception as exc:
        raise ModelLoadError(f"{source}: not a valid ONNX model: {exc}") from exc
    # Versions first: a too-new model gets "which versions are needed", not a checker error.
    check_compatibility(proto, source=source)
    # Weights kept outside the version directory would escape its manifest.
    external_data_files(path, proto)
    try:
        # By path: external data is then looked up next to the model, not in the cwd.
        onnx.checker.check_model(path)
    except Exception as exc:
        raise ModelLoadError(f"{source}: the ONNX checker refused the model: {exc}") from exc


def check_model_file_isolated(path: str, source: str, timeout: float = 120) -> None:
    """Run :func:`check_model_file` in a child process and re-raise its error here."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", __name__, path, source],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ModelLoadError(f"{source}: model check did not finish in {timeout:.0f}s") from exc
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        result = {}
    if done.returncode == 0 and result.get("ok"):
        return
    error_cls = (
        IncompatibleModel if result.get("code") == IncompatibleModel.code else ModelLoadError
    )
    message = result.get("error") or f"{source}: model check crashed: {done.stderr[-500:]}"
    raise error_cls(message)


def _main(argv: list[str]) -> int:
    path, source = argv[0], argv[1] if len(argv) > 1 else argv[0]
    try:
        check_model_file(path, source)
    except ModelLoadError as exc:
        print(json.dumps({"ok": False, "error": exc.message, "code": exc.code}))
        return 1
    print(json.dumps({"ok": True}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

"""The CLI imports no web framework and no heavy optional package until a command needs it."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("aiohttp", "boto3", "torch", "tensorflow", "skl2onnx", "sklearn", "onnxruntime")


def test_cli_import_is_light():
    code = (
        "import sys\n"
        "from openclaw_runtime.toolchain.cli import build_parser\n"
        "build_parser()\n"
        f"print(','.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout.strip()}"


def test_help_lists_every_command_and_exit_codes():
    out = subprocess.run(
        [sys.executable, "-m", "openclaw_runtime.toolchain.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for command in ("convert", "quantize", "verify", "bench", "publish", "fetch", "build-demo"):
        assert command in out.stdout
    assert "Exit codes" in out.stdout

"""The core never imports the web framework (STYLE.md rule 9)."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "openclaw_runtime.config",
    "openclaw_runtime.errors",
    "openclaw_runtime.protocol",
    "openclaw_runtime.models",
    "openclaw_runtime.models.repository",
    "openclaw_runtime.models.demo",
    "openclaw_runtime.batching",
    "openclaw_runtime.metrics",
    "openclaw_runtime.service",
    "openclaw_runtime.supervisor",
]


def test_core_packages_do_not_import_aiohttp():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CORE)
        + "bad = sorted(m for m in sys.modules if m == 'aiohttp' or m.startswith('aiohttp.'))\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imports aiohttp: {out.stdout.strip()[:200]}"


def test_supervisor_does_not_import_onnxruntime():
    code = "import sys, openclaw_runtime.supervisor; print('onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

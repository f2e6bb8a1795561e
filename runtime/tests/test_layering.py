"""The core never imports the web framework: only http/ and cli/ may import aiohttp."""

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


def test_worker_with_auth_and_redis_off_leaves_their_libraries_unimported():
    # cryptography and redis-py cost a worker about 12 MB of its 100 MB budget.
    code = (
        "import sys, dataclasses\n"
        "from openclaw_runtime.config import Settings\n"
        "from openclaw_runtime.cache import ResultCache\n"
        "from openclaw_runtime.http.security import AuthAdapter\n"
        "import openclaw_runtime.http.worker\n"
        "s = Settings()\n"
        "s = dataclasses.replace(s, auth=dataclasses.replace(s.auth, enabled=False))\n"
        "AuthAdapter(s)\n"
        "assert ResultCache.from_settings(s.cache) is not None  # the in-process tier stays on\n"
        "print(','.join(m for m in ('redis', 'cryptography') if m in sys.modules))\n"
        "s = dataclasses.replace(s, cache=dataclasses.replace(s.cache, redis_url='redis://h:1/0'))\n"
        "ResultCache.from_settings(s.cache)\n"
        "print('redis' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    unused, redis_with_url = out.stdout.splitlines()
    assert unused == "", f"imported although not configured: {unused}"
    assert redis_with_url == "True"

"""The auth and cache cores never import the web framework (STYLE rule 9)."""

from __future__ import annotations

import subprocess
import sys


def test_auth_and_cache_do_not_import_aiohttp():
    code = (
        "import sys; import openclaw_runtime.auth, openclaw_runtime.cache, "
        "openclaw_runtime.cli.keys; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'aiohttp'); "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"aiohttp imported by the core: {proc.stdout} {proc.stderr}"

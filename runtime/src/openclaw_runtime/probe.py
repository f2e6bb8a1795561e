"""``openclaw-runtime-probe``: the one health probe of a runtime container.

Docker runs it: the image's ``HEALTHCHECK`` with no arguments, the
openclaw_runtime role's replicas with ``--config`` (the file ``serve`` reads).
It asks ``GET /v2/health/ready`` on 127.0.0.1 at the port the settings resolve
to, with the same precedence as :func:`openclaw_runtime.config.load_settings`
(``OPENCLAW_SERVER_PORT``, then the file's ``server.port``, then the default),
and exits 0 on 200, 1 otherwise, saying why on one line (Docker keeps it in
the container's health log). Standard library and PyYAML only: it runs every
few seconds and must start in milliseconds, so it does not import the settings
module (which pulls in numpy).
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

import yaml

from .defaults import PORT, READY_PATH

__all__ = ["main", "probe_port"]

_PORT_ENV = "OPENCLAW_SERVER_PORT"


def probe_port(config: str | None = None, env: Mapping[str, str] | None = None) -> int:
    """Return the port ``serve --config CONFIG`` listens on, without its flags."""
    env = os.environ if env is None else env
    if _PORT_ENV in env:
        return int(env[_PORT_ENV])
    if config:
        with open(config, encoding="utf-8") as handle:
            tree = yaml.safe_load(handle) or {}
        port = (tree.get("server") or {}).get("port")
        if port is not None:
            return int(port)
    return PORT


def main(argv: list[str] | None = None) -> int:
    """Probe readiness; return 0 when ready, 1 when not (or not answering)."""
    parser = argparse.ArgumentParser(
        prog="openclaw-runtime-probe", description="exit 0 when the runtime here is ready"
    )
    parser.add_argument("--config", "-c", metavar="FILE", help="the settings file serve reads")
    parser.add_argument("--path", default=READY_PATH, help=f"path to ask (default {READY_PATH})")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds (default 2)")
    args = parser.parse_args(argv)
    try:
        url = f"http://127.0.0.1:{probe_port(args.config)}{args.path}"
    except (OSError, ValueError, AttributeError, yaml.YAMLError) as exc:
        print(f"cannot tell the port from {args.config or 'the environment'}: {exc}")
        return 1
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        print(f"{url}: {getattr(exc, 'reason', exc)}")
        return 1
    if status != 200:
        print(f"{url}: HTTP {status}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

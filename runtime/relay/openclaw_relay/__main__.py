"""Command line: ``python3 -m openclaw_relay serve|check [--config PATH]``."""

from __future__ import annotations

import argparse
import sys

from aiohttp import web

from .config import default_config_path, load_settings
from .errors import ConfigError
from .http import build_app
from .logs import setup_logging

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the relay (serve) or check a configuration file (check)."""
    parser = argparse.ArgumentParser(prog="openclaw-relay", description=__doc__)
    parser.add_argument("action", choices=("serve", "check"))
    parser.add_argument(
        "--config", default=None, help=f"configuration file (default: {default_config_path()})"
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"openclaw-relay: {exc}", file=sys.stderr)
        return 2
    if args.action == "check":
        names = ", ".join(f"{c.name} ({c.kind})" for c in settings.channels) or "none"
        print(f"configuration ok: listen {settings.host}:{settings.port}, channels: {names}")
        return 0
    setup_logging()
    web.run_app(
        build_app(settings), host=settings.host, port=settings.port, access_log=None, print=None
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

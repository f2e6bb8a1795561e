"""Command line: ``python3 -m openclaw_relay serve|check [--config PATH]``."""

from __future__ import annotations

import argparse
import socket
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
    addresses = [(settings.host, settings.port)]
    if settings.status is not None and settings.status.listen is not None:
        addresses.append(settings.status.listen)
    try:
        sockets = [_bound(host, port) for host, port in addresses]
    except OSError as exc:
        print(
            f"openclaw-relay: cannot listen: {exc} (see listen and status.listen)", file=sys.stderr
        )
        return 2
    web.run_app(build_app(settings), sock=sockets, access_log=None, print=None)
    return 0


def _bound(host: str, port: int) -> socket.socket:
    """A listening TCP socket on HOST:PORT (IPv6 when HOST is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"{host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    return sock


if __name__ == "__main__":
    sys.exit(main())

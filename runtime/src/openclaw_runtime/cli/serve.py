"""``openclaw-runtime serve``: run the server (supervisor + workers)."""

from __future__ import annotations

import argparse

from ..config import load_settings
from ..logs import configure_logging

__all__ = ["register"]


def settings_from_args(args: argparse.Namespace):
    """Build the settings from --config, the environment and the command-line flags."""
    overrides: dict[str, object] = {
        "server.host": args.host,
        "server.port": args.port,
        "server.workers": args.workers,
        "models.repository": args.repository,
        "logging.level": args.log_level,
    }
    for item in args.set or ():
        key, sep, value = item.partition("=")
        if not sep:
            from ..errors import ConfigError

            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. server.port=8080")
        overrides[key.strip()] = value
    return load_settings(args.config, overrides=overrides)


def _run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    configure_logging(settings.logging.level, settings.logging.format)
    from ..supervisor import serve

    return serve(settings)


def register(sub) -> None:
    """Add the ``serve`` subcommand."""
    p = sub.add_parser("serve", help="serve the models of a repository over HTTP")
    p.add_argument("--config", "-c", metavar="FILE", help="YAML settings file")
    p.add_argument("--host", help="listen address (server.host)")
    p.add_argument("--port", type=int, help="listen port (server.port)")
    p.add_argument("--workers", type=int, help="worker processes, 0 = CPU quota (server.workers)")
    p.add_argument("--repository", help="model repository directory (models.repository)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override any setting (repeatable)"
    )
    p.set_defaults(func=_run)

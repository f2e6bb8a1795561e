"""The ``openclaw-runtime`` command line: serve, check-config, models (and plug-in commands).

Each subcommand lives in its own module exposing ``register(subparsers)``,
which adds a parser whose ``func(args) -> int`` runs it; add a module to
``COMMANDS`` to add a command.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import OpenClawError

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = ["serve", "check", "models", "keys"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every available subcommand."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="openclaw-runtime", description="OpenClaw inference runtime (Open Inference Protocol)"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.endswith(f"cli.{name}"):
                continue  # optional command not installed in this tree
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (2 for usage and configuration errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except OpenClawError as exc:
        print(f"openclaw-runtime: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

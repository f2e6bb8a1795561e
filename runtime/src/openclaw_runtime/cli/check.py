"""``openclaw-runtime check-config FILE``: validate settings (file + environment)."""

from __future__ import annotations

import argparse
import json

from ..config import load_settings

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    settings = load_settings(args.file)
    if args.show:
        print(json.dumps(settings.to_dict(), indent=2))
    else:
        print(f"{args.file}: OK")
    return 0


def register(sub) -> None:
    """Add the ``check-config`` subcommand."""
    p = sub.add_parser("check-config", help="validate a settings file (exit 2 when invalid)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--show", action="store_true", help="print the resolved settings as JSON")
    p.set_defaults(func=_run)

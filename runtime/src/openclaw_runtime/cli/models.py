"""``openclaw-runtime models list|verify|manifest|build-demo``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import OpenClawError

__all__ = ["register"]


def _versions(repo: Path, name: str) -> list[int]:
    return sorted(int(p.name) for p in (repo / name).iterdir() if p.is_dir() and p.name.isdigit())


def _names(repo: Path) -> list[str]:
    from ..models.modelconfig import CONFIG_NAME

    if not repo.is_dir():
        raise OpenClawError(f"{repo}: not a directory")
    return sorted(p.name for p in repo.iterdir() if (p / CONFIG_NAME).is_file())


def _list(args: argparse.Namespace) -> int:
    from ..models.modelconfig import load_model_config

    repo = Path(args.repository)
    rows = []
    for name in _names(repo):
        try:
            cfg = load_model_config(repo / name)
            policy = cfg.version_policy.select(_versions(repo, name))
            rows.append(
                {
                    "name": name,
                    "versions": _versions(repo, name),
                    "served": policy,
                    "load": cfg.load,
                    "max_batch_size": cfg.max_batch_size,
                }
            )
        except OpenClawError as exc:
            rows.append({"name": name, "error": exc.message})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            if "error" in row:
                print(f"{row['name']:24} INVALID  {row['error']}")
            else:
                # Unset in config.yaml: the server's batching.max_batch_size applies.
                batch = "server-default" if row["max_batch_size"] is None else row["max_batch_size"]
                print(
                    f"{row['name']:24} versions={row['versions']} served={row['served']} "
                    f"load={row['load']} max_batch_size={batch}"
                )
    return 0


def _verify(args: argparse.Namespace) -> int:
    """Run the full load check (manifest, ONNX checker, opset/IR, I/O) on every served version."""
    from ..models.modelconfig import load_model_config
    from ..models.session import SessionOptions, load_version

    repo = Path(args.repository)
    names = [args.model] if args.model else _names(repo)
    failures = 0
    for name in names:
        try:
            cfg = load_model_config(repo / name)
            versions = cfg.version_policy.select(_versions(repo, name))
        except OpenClawError as exc:
            print(f"FAIL {name}: {exc.message}")
            failures += 1
            continue
        for version in versions:
            try:
                loaded = load_version(repo / name, version, cfg, SessionOptions())
            except OpenClawError as exc:
                print(f"FAIL {name}/{version}: {exc.message}")
                failures += 1
            else:
                print(f"OK   {name}/{version} ({loaded.memory_bytes >> 10} KiB)")
    return 1 if failures else 0


def _manifest(args: argparse.Namespace) -> int:
    from ..models.manifest import write_manifest

    for directory in args.version_dirs:
        print(write_manifest(directory))
    return 0


def _build_demo(args: argparse.Namespace) -> int:
    from ..models.demo import build_demo_model

    path = build_demo_model(args.repository, name=args.name, version=args.version)
    print(path)
    return 0


def register(sub) -> None:
    """Add the ``models`` subcommand group."""
    p = sub.add_parser("models", help="inspect, verify and prepare model repositories")
    msub = p.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    ls = msub.add_parser("list", help="list models, versions and what the policy serves")
    ls.add_argument("repository", metavar="REPO")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    vf = msub.add_parser("verify", help="checksum, ONNX check, opset/IR and I/O of every version")
    vf.add_argument("repository", metavar="REPO")
    vf.add_argument("--model", help="only this model")
    vf.set_defaults(func=_verify)
    mf = msub.add_parser("manifest", help="write SHA256SUMS in version directories")
    mf.add_argument("version_dirs", nargs="+", metavar="VERSION_DIR")
    mf.set_defaults(func=_manifest)
    bd = msub.add_parser("build-demo", help="rebuild the digits demo model reproducibly")
    bd.add_argument("repository", metavar="REPO")
    bd.add_argument("--name", default="digits")
    bd.add_argument("--version", type=int, default=1)
    bd.set_defaults(func=_build_demo)

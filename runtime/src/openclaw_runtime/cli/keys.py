"""``openclaw-runtime keys``: create, list, show, revoke, rotate and expiry-check API keys.

The store and its Fernet key come from the settings (``--config`` file and
``OPENCLAW_*`` environment, as for ``serve``) or from ``--store`` and
``--key-file``. A running server picks changes up by itself (file polling);
``kill -HUP`` the server to apply them at once.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from ..auth import (
    AuditLog,
    KeyManager,
    KeyRecord,
    KeyStore,
    KeyStoreError,
    RoleMap,
    load_fernet_key,
)
from ..config import load_settings

__all__ = ["register"]


def _manager(args: argparse.Namespace) -> tuple[KeyManager, Any]:
    overrides = {"auth.key_store": args.store, "auth.key_store_key_file": args.key_file}
    settings = load_settings(args.config, overrides=overrides).auth
    store = KeyStore(settings.key_store, load_fernet_key(settings.key_store_key_file))
    audit = AuditLog(settings.audit_log)
    return KeyManager(store, roles=RoleMap(settings.roles), audit=audit), settings


def _row(record: KeyRecord) -> str:
    expires = record.effective_expiry().strftime("%Y-%m-%d")
    roles = ",".join(record.roles)
    cidrs = ",".join(record.cidrs) or "any"
    return f"{record.id}  {record.state.value:<8}  {expires}  {record.name:<20}  {roles}  {cidrs}"


def _print_records(records: list[KeyRecord], as_json: bool) -> None:
    if as_json:
        print(json.dumps([r.public_dict() for r in records], indent=2))
        return
    print(f"{'ID':<16}  {'STATE':<8}  {'EXPIRES':<10}  {'NAME':<20}  ROLES  NETWORKS")
    for record in records:
        print(_row(record))


def _issued(args: argparse.Namespace, issued) -> None:
    if args.json:
        print(json.dumps({"key": issued.key, **issued.record.public_dict()}, indent=2))
        return
    print(f"id:      {issued.record.id}")
    print(f"name:    {issued.record.name}")
    print(f"roles:   {', '.join(issued.record.roles)}")
    print(f"expires: {issued.record.expires.isoformat()}")
    print(f"key:     {issued.key}")
    print("Store the key now: it is shown only once and cannot be recovered.", file=sys.stderr)


def _create(args: argparse.Namespace) -> int:
    manager, settings = _manager(args)
    days = args.days if args.days is not None else settings.key_lifetime_days
    issued = manager.create(
        args.name, args.role, cidrs=args.cidr or (), models=args.model or (), days=days
    )
    _issued(args, issued)
    return 0


def _list(args: argparse.Namespace) -> int:
    manager, _ = _manager(args)
    manager.store.load()
    records = manager.store.records()
    if not args.all:
        records = [r for r in records if r.state.value != "revoked"]
    _print_records(records, args.json)
    return 0


def _show(args: argparse.Namespace) -> int:
    manager, _ = _manager(args)
    manager.store.load()
    record = manager.store.get(args.id)
    if record is None:
        print(f"openclaw-runtime: error: no key with id {args.id!r}", file=sys.stderr)
        return 1
    print(json.dumps(record.public_dict(), indent=2))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    manager, _ = _manager(args)
    record = manager.revoke(args.id)
    print(json.dumps(record.public_dict(), indent=2) if args.json else f"revoked {record.id}")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    manager, settings = _manager(args)
    grace = args.grace_days if args.grace_days is not None else settings.rotation_grace_days
    issued = manager.rotate(args.id, grace_days=grace, days=settings.key_lifetime_days)
    _issued(args, issued)
    if not args.json:
        print(f"the old key {args.id} stays valid for {grace:g} days", file=sys.stderr)
    return 0


def _expire_check(args: argparse.Namespace) -> int:
    manager, _ = _manager(args)
    records = manager.expiring(args.days)
    if args.json:
        print(json.dumps([r.public_dict() for r in records], indent=2))
    elif records:
        print(f"{len(records)} key(s) expire within {args.days:g} days:")
        for record in records:
            print(_row(record))
    else:
        print(f"no key expires within {args.days:g} days")
    return 1 if records else 0


def _write_secret(path: str, data: bytes, *, replace: bool) -> None:
    """Write ``data`` to a new file at ``path``, owner-only (0600) from the start, all at once.

    The data goes to a temporary file that ``mkstemp`` creates 0600 beside
    ``path``; it then appears under its name whole: hard-linked (which fails if
    ``path`` exists) or, with ``replace``, renamed over the old file.
    """
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise KeyStoreError(
            f"cannot create a file in {str(target.parent)!r}: {exc.strerror}; "
            "create the directory or choose another --output"
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP):
                    raise
                # No hard links on this file system: an exclusive create, 0600 as well.
                with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
                    fh.write(data)
    except FileExistsError:
        raise KeyStoreError(
            f"{path} exists and may be the key of an existing store (a new key cannot decrypt "
            "it): keep it, choose another --output, or pass --force to replace it"
        ) from None
    except OSError as exc:
        raise KeyStoreError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _generate_store_key(args: argparse.Namespace) -> int:
    key = Fernet.generate_key()
    if args.output:
        _write_secret(args.output, key + b"\n", replace=args.force)
        print(f"wrote a new Fernet key to {args.output} (mode 0600)", file=sys.stderr)
    else:
        print(key.decode())
    return 0


def register(sub) -> None:
    """Add the ``keys`` subcommand and its actions."""
    p = sub.add_parser("keys", help="manage API keys (encrypted key store)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", "-c", metavar="FILE", help="YAML settings file")
    common.add_argument("--store", metavar="PATH", help="key store file (auth.key_store)")
    common.add_argument(
        "--key-file", metavar="PATH", help="Fernet key file (auth.key_store_key_file)"
    )
    common.add_argument("--json", action="store_true", help="machine-readable output")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    c = actions.add_parser("create", parents=[common], help="issue a key (shown once)")
    c.add_argument("--name", required=True, help="who or what uses the key")
    c.add_argument("--role", action="append", required=True, help="role (repeatable)")
    c.add_argument("--cidr", action="append", help="allowed network (repeatable; default any)")
    c.add_argument("--model", action="append", help="restrict to this model (repeatable)")
    c.add_argument("--days", type=float, help="lifetime (auth.key_lifetime_days, 90)")
    c.set_defaults(func=_create)

    ls = actions.add_parser("list", parents=[common], help="list keys (no secrets)")
    ls.add_argument("--all", action="store_true", help="include revoked keys")
    ls.set_defaults(func=_list)

    s = actions.add_parser("show", parents=[common], help="show one key's record")
    s.add_argument("id")
    s.set_defaults(func=_show)

    r = actions.add_parser("revoke", parents=[common], help="revoke a key at once")
    r.add_argument("id")
    r.set_defaults(func=_revoke)

    rot = actions.add_parser(
        "rotate", parents=[common], help="issue a successor; the old key works for a grace period"
    )
    rot.add_argument("id")
    rot.add_argument("--grace-days", type=float, help="auth.rotation_grace_days (7)")
    rot.set_defaults(func=_rotate)

    e = actions.add_parser(
        "expire-check", parents=[common], help="list keys expiring soon; exit 1 if any"
    )
    e.add_argument("--days", type=float, default=14, help="horizon in days (14)")
    e.set_defaults(func=_expire_check)

    g = actions.add_parser(
        "generate-store-key", help="print (or write with --output) a new Fernet key for the store"
    )
    g.add_argument(
        "--output", "-o", metavar="FILE", help="write to FILE, mode 0600 (must not exist)"
    )
    g.add_argument(
        "--force", action="store_true", help="replace FILE if it exists (its store is lost)"
    )
    g.set_defaults(func=_generate_store_key)

"""SHA-256 manifests of model versions.

The manifest is ``<repo>/<model>/<version>/SHA256SUMS`` in the format of
``sha256sum`` (``<hex>  <relative path>``), so ``sha256sum -c SHA256SUMS`` run
inside the version directory checks it too. It lists every regular file of the
version directory except itself.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import ChecksumMismatch, ModelLoadError

__all__ = ["MANIFEST_NAME", "compute_digests", "read_manifest", "verify_manifest", "write_manifest"]

MANIFEST_NAME = "SHA256SUMS"
_CHUNK = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files(version_dir: Path) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(version_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name == MANIFEST_NAME or name.startswith("."):
                continue
            out.append(Path(root, name))
    return out


def compute_digests(version_dir: str | os.PathLike[str]) -> dict[str, str]:
    """Return ``relative path -> sha256 hex`` for every file of a version directory."""
    base = Path(version_dir)
    return {p.relative_to(base).as_posix(): _sha256(p) for p in _files(base)}


def write_manifest(version_dir: str | os.PathLike[str]) -> Path:
    """Write (or rewrite) the version directory's SHA256SUMS and return its path."""
    base = Path(version_dir)
    lines = [f"{digest}  {name}\n" for name, digest in sorted(compute_digests(base).items())]
    target = base / MANIFEST_NAME
    tmp = base / f".{MANIFEST_NAME}.tmp"
    tmp.write_text("".join(lines), encoding="utf-8")
    os.replace(tmp, target)
    return target


def read_manifest(version_dir: str | os.PathLike[str]) -> dict[str, str] | None:
    """Return the manifest's ``path -> digest`` mapping, or None when there is none."""
    path = Path(version_dir) / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        name = name.lstrip("*")
        if not sep or len(digest) != 64 or not name:
            raise ModelLoadError(f"{path}:{number}: not a sha256sum line: {line!r}")
        entries[name] = digest.lower()
    return entries


def verify_manifest(version_dir: str | os.PathLike[str], *, required: bool = True) -> list[str]:
    """Check every file against the manifest; raise ChecksumMismatch naming the bad files."""
    base = Path(version_dir)
    expected = read_manifest(base)
    if expected is None:
        if required:
            raise ChecksumMismatch(
                f"{base}: no {MANIFEST_NAME} manifest; create it with "
                f"'openclaw-runtime models manifest {base}'"
            )
        return []
    actual = compute_digests(base)
    problems = []
    for name, digest in sorted(expected.items()):
        if name not in actual:
            problems.append(f"{name}: missing")
        elif actual[name] != digest:
            problems.append(f"{name}: sha256 {actual[name]} != manifest {digest}")
    for name in sorted(set(actual) - set(expected)):
        problems.append(f"{name}: not listed in the manifest")
    if problems:
        raise ChecksumMismatch(f"{base}: checksum verification failed: " + "; ".join(problems))
    return sorted(expected)

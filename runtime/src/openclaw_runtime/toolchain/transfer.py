"""Publish model versions to a store and fetch them back, safely.

Store layout (the repository layout, so a ``file://`` store is itself a repository)::

    <base>/<name>/config.yaml             the model's config (and its labels file)
    <base>/<name>/<version>/SHA256SUMS    uploaded last: a version without it is incomplete
    <base>/<name>/<version>/model.onnx ...

The published SHA256SUMS also lists ``../config.yaml`` and the labels file
(:mod:`.published`), so the one pinned hash (``--manifest-sha256``) covers
every file a fetch installs. A fetch downloads into
``<repo>/<name>/.fetch-<version>/`` (kept between runs, so an interrupted fetch
resumes with ``Range`` requests), checks every file against the manifest and
the size bound, and only then renames the directory into place: a good version
is never replaced by a partial or corrupt one.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import OpenClawError
from ..models.manifest import MANIFEST_NAME, MODEL_LEVEL_PREFIX, verify_manifest
from ..models.modelconfig import CONFIG_NAME
from .download import download
from .errors import TransferError, UsageError
from .layout import ModelRef, install_version
from .progress import Progress
from .published import (
    SMALL,
    check_external_data,
    check_pin,
    fetch_model_files,
    install_model_files,
    parse_published,
    write_published_manifest,
)
from .store import open_store
from .store.base import check_key, redact_url

__all__ = ["DEFAULT_MAX_BYTES", "fetch", "publish", "split_version_url"]

DEFAULT_MAX_BYTES = 2 << 30  # the guide keeps models under 1.5 GiB


def publish(ref: ModelRef, url: str, progress: Progress) -> dict[str, Any]:
    """Upload one verified version (and the model's config) to the store at ``url``."""
    version_dir = ref.version_dir
    progress.step(f"checking {version_dir} against its manifest")
    names = [n for n in verify_manifest(version_dir) if not n.startswith(MODEL_LEVEL_PREFIX)]
    store = open_store(url)
    prefix = f"{ref.name}/{ref.version}"
    with tempfile.TemporaryDirectory() as tmp:
        published, copies = write_published_manifest(version_dir, ref.model_dir, Path(tmp))
        uploads = [(f"{ref.name}/{rel}", copy) for rel, copy in copies.items()]
        uploads += [(f"{prefix}/{n}", version_dir / n) for n in names]
        uploads.append((f"{prefix}/{MANIFEST_NAME}", published))  # last: marks it complete
        total = 0
        for number, (key, path) in enumerate(uploads, 1):
            size = path.stat().st_size
            progress.step(f"uploading {number}/{len(uploads)} {store.describe(key)} ({size} bytes)")
            store.put(key, path)
            total += size
        manifest_sha256 = hashlib.sha256(published.read_bytes()).hexdigest()
    return {
        "url": f"{store.public_url}/{prefix}",
        "files": [key for key, _ in uploads],
        "bytes": total,
        "manifest_sha256": manifest_sha256,
    }


def split_version_url(url: str) -> tuple[str, str, int]:
    """Split ``<base>/<name>/<version>`` into the store base URL, the name and the version."""
    try:
        parts = urlsplit(url.rstrip("/"))
    except ValueError as exc:
        raise UsageError(f"the store URL is not a valid URL ({exc})") from None
    segments = parts.path.split("/")
    if len(segments) < 2 or not segments[-1].isdigit() or not segments[-2]:
        raise UsageError(f"{redact_url(url)!r}: expected a version URL, <store>/<name>/<version>")
    base = urlunsplit(parts._replace(path="/".join(segments[:-2])))
    if parts.scheme in ("s3", "oss") and not parts.netloc:
        raise UsageError(
            f"{redact_url(url)!r}: expected {parts.scheme}://BUCKET/.../<name>/<version>"
        )
    return base, segments[-2], int(segments[-1])


def _staging_dirs(model_dir: Path, version: int, own_manifest: bytes) -> tuple[Path, Path]:
    """Return the download directories of ``version``: its files (resumed), the model's files."""
    partial = model_dir / f".fetch-{version}"
    old_manifest = partial / MANIFEST_NAME
    if partial.exists() and (
        not old_manifest.exists() or old_manifest.read_bytes() != own_manifest
    ):
        shutil.rmtree(partial)  # leftovers of another version: start afresh
    partial.mkdir(parents=True, exist_ok=True)
    old_manifest.write_bytes(own_manifest)
    model_files_dir = model_dir / f".fetch-{version}-model"
    shutil.rmtree(model_files_dir, ignore_errors=True)
    model_files_dir.mkdir(parents=True)
    return partial, model_files_dir


def fetch(
    url: str,
    repo: Path,
    progress: Progress,
    *,
    version: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    manifest_sha256: str | None = None,
    replace: bool = False,
) -> dict[str, Any]:
    """Download a published version into ``repo``; see the module docstring for the guarantees."""
    base, name, source_version = split_version_url(url)
    store = open_store(base)
    check_pin(store.public_url, manifest_sha256)
    target_version = version or source_version
    model_dir = repo / name
    prefix = f"{name}/{source_version}"
    source = store.describe(prefix)
    progress.step(f"reading {store.describe(f'{prefix}/{MANIFEST_NAME}')}")
    manifest = store.read(f"{prefix}/{MANIFEST_NAME}", SMALL)
    actual = hashlib.sha256(manifest).hexdigest()
    if manifest_sha256 and actual != manifest_sha256.lower():
        raise TransferError(
            f"{source}: manifest sha256 {actual} is not the expected {manifest_sha256}"
        )
    own_manifest, entries, model_level = parse_published(manifest, source)
    partial, model_files_dir = _staging_dirs(model_dir, target_version, own_manifest)
    try:
        model_files = fetch_model_files(store, name, model_files_dir, model_level, progress)
        budget, total = max_bytes, 0
        for number, (rel, digest) in enumerate(sorted(entries.items()), 1):
            progress.step(
                f"downloading {number}/{len(entries)} {store.describe(f'{prefix}/{rel}')}"
            )
            size = download(
                store, f"{prefix}/{check_key(rel)}", partial / rel, digest, budget, progress
            )
            budget -= size
            total += size
        verify_manifest(partial)
        check_external_data(partial, entries, source)
        # The config goes in first: a runtime scanning the repository never sees a
        # version without the config that describes it.
        config_state = install_model_files(model_files_dir, model_dir, model_files)
        if config_state == "kept-local-differs":
            progress.step(f"warning: {model_dir / CONFIG_NAME} differs from the store's; kept it")
        target = model_dir / str(target_version)
        installed = target / MANIFEST_NAME
        unchanged = installed.is_file() and installed.read_bytes() == own_manifest
        problem = "a different version" if target.exists() and not unchanged else None
        if unchanged:
            try:
                verify_manifest(target)
            except OpenClawError:
                unchanged, problem = False, "a damaged copy (it fails its manifest) of version"
        if unchanged:
            shutil.rmtree(partial)
        elif problem and not replace:
            raise TransferError(
                f"{target}: {problem} {target_version} is installed; "
                "pass --replace to swap it, or --version N to install alongside"
            )
        else:
            install_version(partial, model_dir, target_version, replace=replace)
    finally:
        shutil.rmtree(model_files_dir, ignore_errors=True)
    progress.step(
        f"installed {model_dir / str(target_version)} ({total} bytes, checksums verified)"
    )
    return {
        "model": name,
        "version": target_version,
        "path": str(model_dir / str(target_version)),
        "bytes": total,
        "files": sorted(entries),
        "model_files": model_files,
        "manifest_sha256": actual,
        "unchanged": unchanged,
        "config": config_state,
    }

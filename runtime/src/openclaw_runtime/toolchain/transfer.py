"""Publish model versions to a store and fetch them back, safely.

Store layout (the repository layout, so a ``file://`` store is itself a repository)::

    <base>/<name>/config.yaml             the model's config (and its labels file)
    <base>/<name>/<version>/SHA256SUMS    uploaded last: a version without it is incomplete
    <base>/<name>/<version>/model.onnx ...

A fetch downloads into ``<repo>/<name>/.fetch-<version>/`` (kept between runs,
so an interrupted fetch resumes with ``Range`` requests), checks every file
against the manifest and the size bound, and only then renames the directory
into place: a good version is never replaced by a partial or corrupt one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from ..errors import OpenClawError
from ..models.manifest import MANIFEST_NAME, read_manifest, verify_manifest
from ..models.modelconfig import CONFIG_NAME, load_model_config, parse_model_config
from .errors import TransferError, UsageError
from .layout import ModelRef, install_version
from .progress import Progress
from .store import Store, open_store
from .store.base import check_key

__all__ = ["DEFAULT_MAX_BYTES", "fetch", "publish", "split_version_url"]

DEFAULT_MAX_BYTES = 2 << 30  # the guide keeps models under 1.5 GiB
_SMALL = 1 << 20  # manifests, configs, labels


class _TooLarge(TransferError):
    """Over ``--max-bytes``: resuming would not help."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _model_files(model_dir: Path) -> list[str]:
    """Model-level files that travel with every version: config.yaml and its labels file."""
    files = [CONFIG_NAME]
    labels = load_model_config(model_dir).labels
    if labels:
        files.append(check_key(labels))
    return files


def publish(ref: ModelRef, url: str, progress: Progress) -> dict[str, Any]:
    """Upload one verified version (and the model's config) to the store at ``url``."""
    version_dir = ref.version_dir
    progress.step(f"checking {version_dir} against its manifest")
    names = verify_manifest(version_dir)
    store = open_store(url)
    prefix = f"{ref.name}/{ref.version}"
    uploads = [(f"{ref.name}/{f}", ref.model_dir / f) for f in _model_files(ref.model_dir)]
    uploads += [(f"{prefix}/{n}", version_dir / n) for n in names]
    uploads.append((f"{prefix}/{MANIFEST_NAME}", version_dir / MANIFEST_NAME))
    total = 0
    for number, (key, path) in enumerate(uploads, 1):
        size = path.stat().st_size
        progress.step(f"uploading {number}/{len(uploads)} {store.describe(key)} ({size} bytes)")
        store.put(key, path)
        total += size
    return {
        "url": f"{store.public_url}/{prefix}",
        "files": [key for key, _ in uploads],
        "bytes": total,
        "manifest_sha256": _sha256(version_dir / MANIFEST_NAME),
    }


def split_version_url(url: str) -> tuple[str, str, int]:
    """Split ``<base>/<name>/<version>`` into the store base URL, the name and the version."""
    parts = urlsplit(url.rstrip("/"))
    segments = parts.path.split("/")
    if len(segments) < 2 or not segments[-1].isdigit() or not segments[-2]:
        raise UsageError(f"{url!r}: expected a version URL, <store>/<name>/<version>")
    base = urlunsplit(parts._replace(path="/".join(segments[:-2])))
    if parts.scheme in ("s3", "oss") and not parts.netloc:
        raise UsageError(f"{url!r}: expected {parts.scheme}://BUCKET/.../<name>/<version>")
    return base, segments[-2], int(segments[-1])


def _download(
    store: Store, key: str, dest: Path, digest: str, budget: int, progress: Progress
) -> int:
    """Download (or resume) one file and check its SHA-256; return its size."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    offset = dest.stat().st_size if dest.exists() else 0
    if offset and _sha256(dest) == digest:
        progress.step(f"{key}: already complete")
        return offset
    download = store.open(key, offset)
    done = download.offset
    try:
        if download.total is not None and download.total > budget:
            raise _TooLarge(
                f"{store.describe(key)}: {download.total} bytes exceeds the size bound "
                f"({budget} bytes left of --max-bytes)"
            )
        mode = "ab" if download.offset else "wb"  # the store may ignore Range and restart
        counter = progress.transfer(key, download.total, done)
        with dest.open(mode) as fh:
            try:
                for chunk in download.chunks:
                    if done + len(chunk) > budget:
                        raise _TooLarge(
                            f"{store.describe(key)}: more than {budget} bytes; over --max-bytes"
                        )
                    fh.write(chunk)
                    done += len(chunk)
                    counter.update(len(chunk))
            except _TooLarge:
                raise
            except TransferError as exc:
                raise TransferError(
                    f"{exc.message}; {done} bytes kept, run fetch again to resume"
                ) from exc
        counter.close()
    finally:
        download.close()
    if download.total is not None and done < download.total:
        raise TransferError(
            f"{store.describe(key)}: got {done} of {download.total} bytes; "
            "run fetch again to resume"
        )
    actual = _sha256(dest)
    if actual != digest:
        dest.unlink()
        raise TransferError(
            f"{store.describe(key)}: sha256 {actual} does not match the manifest's {digest}; "
            "the download was discarded and no installed version was changed"
        )
    return done


def _fetch_model_files(store: Store, name: str, staging: Path) -> list[str]:
    """Fetch config.yaml (and labels) into ``staging`` and validate the config."""
    raw = store.read(f"{name}/{CONFIG_NAME}", _SMALL)
    try:
        config = parse_model_config(
            yaml.safe_load(raw), name=name, source=store.describe(f"{name}/{CONFIG_NAME}")
        )
    except yaml.YAMLError as exc:
        raise TransferError(
            f"{store.describe(f'{name}/{CONFIG_NAME}')}: not valid YAML: {exc}"
        ) from exc
    (staging / CONFIG_NAME).write_bytes(raw)
    files = [CONFIG_NAME]
    if config.labels:
        (staging / check_key(config.labels)).parent.mkdir(parents=True, exist_ok=True)
        (staging / config.labels).write_bytes(store.read(f"{name}/{config.labels}", _SMALL * 64))
        files.append(config.labels)
    return files


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
    target_version = version or source_version
    model_dir = repo / name
    prefix = f"{name}/{source_version}"
    progress.step(f"reading {store.describe(f'{prefix}/{MANIFEST_NAME}')}")
    manifest = store.read(f"{prefix}/{MANIFEST_NAME}", _SMALL)
    actual = hashlib.sha256(manifest).hexdigest()
    if manifest_sha256 and actual != manifest_sha256.lower():
        raise TransferError(
            f"{url}: manifest sha256 {actual} is not the expected {manifest_sha256}"
        )
    partial = model_dir / f".fetch-{target_version}"
    old_manifest = partial / MANIFEST_NAME
    if partial.exists() and (not old_manifest.exists() or old_manifest.read_bytes() != manifest):
        shutil.rmtree(partial)  # leftovers of another version: start afresh
    partial.mkdir(parents=True, exist_ok=True)
    old_manifest.write_bytes(manifest)
    try:
        entries = read_manifest(partial) or {}
    except OpenClawError as exc:
        shutil.rmtree(partial)
        raise TransferError(f"{url}: the published manifest is malformed: {exc.message}") from exc
    if not entries:
        raise TransferError(f"{url}: the published manifest lists no files")
    for rel in entries:
        check_key(rel)  # every path, before a single byte is written
    model_files_dir = model_dir / f".fetch-{target_version}-model"
    shutil.rmtree(model_files_dir, ignore_errors=True)
    model_files_dir.mkdir(parents=True)
    try:
        model_files = _fetch_model_files(store, name, model_files_dir)
        budget, total = max_bytes, 0
        for number, (rel, digest) in enumerate(sorted(entries.items()), 1):
            progress.step(
                f"downloading {number}/{len(entries)} {store.describe(f'{prefix}/{rel}')}"
            )
            size = _download(
                store, f"{prefix}/{check_key(rel)}", partial / rel, digest, budget, progress
            )
            budget -= size
            total += size
        verify_manifest(partial)
        # The config goes in first: a runtime scanning the repository never sees a
        # version without the config that describes it.
        config_state = _install_model_files(model_files_dir, model_dir, model_files)
        if config_state == "kept-local-differs":
            progress.step(f"warning: {model_dir / CONFIG_NAME} differs from the store's; kept it")
        target = model_dir / str(target_version)
        installed = target / MANIFEST_NAME
        unchanged = installed.is_file() and installed.read_bytes() == manifest
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
        "manifest_sha256": actual,
        "unchanged": unchanged,
        "config": config_state,
    }


def _install_model_files(staging: Path, model_dir: Path, files: list[str]) -> str:
    """Install config.yaml and labels when the model has none; never overwrite local ones."""
    local = model_dir / CONFIG_NAME
    if local.exists():
        return (
            "kept"
            if local.read_bytes() == (staging / CONFIG_NAME).read_bytes()
            else "kept-local-differs"
        )
    for rel in files:
        dest = model_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.fetching")
        shutil.copyfile(staging / rel, tmp)
        os.replace(tmp, dest)
    return "installed"

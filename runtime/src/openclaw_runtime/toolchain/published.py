"""The published manifest: a version's SHA256SUMS plus its model-level files.

``publish`` uploads ``<name>/<version>/SHA256SUMS`` as the version's own lines
followed by ``../config.yaml`` and ``../<labels file>`` lines (``sha256sum -c``
inside a ``file://`` store's version directory checks them too), so the one hash
a fetch is pinned to (``--manifest-sha256``) covers every file it installs.
``fetch`` checks config.yaml and the labels file against those lines before they
are moved into the repository, and installs the version's own lines as its
SHA256SUMS.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from ..errors import OpenClawError
from ..models.manifest import (
    MANIFEST_NAME,
    MODEL_LEVEL_PREFIX,
    external_data_files,
    manifest_text,
    parse_manifest,
    sha256_file,
    split_model_level,
    without_model_level,
)
from ..models.modelconfig import CONFIG_NAME, load_model_config, parse_model_config
from .download import download
from .errors import TransferError, UsageError
from .layout import MODEL_FILE
from .progress import Progress
from .store import Store
from .store.base import check_key

__all__ = [
    "SMALL",
    "check_external_data",
    "check_pin",
    "fetch_model_files",
    "install_model_files",
    "model_files",
    "parse_published",
    "write_published_manifest",
]

SMALL = 1 << 20  # manifests, configs
_LABELS_MAX = 64 << 20


def labels_key(labels: str, source: str) -> str:
    """Check the labels file a config names: a plain file of the model directory."""
    try:
        check_key(labels)
    except TransferError:
        raise TransferError(
            f"{source}: labels: {labels!r} is not a path inside the model"
        ) from None
    first = labels.split("/", maxsplit=1)[0]
    if first.isdigit() or first.startswith(".") or labels == CONFIG_NAME:
        raise TransferError(
            f"{source}: labels: {labels!r} would land in a version or hidden directory "
            "(or on config.yaml); name a file such as labels.txt"
        )
    return labels


def model_files(model_dir: Path) -> list[str]:
    """Model-level files that travel with every version: config.yaml and its labels file."""
    files = [CONFIG_NAME]
    labels = load_model_config(model_dir).labels
    if labels:
        files.append(labels_key(labels, str(model_dir / CONFIG_NAME)))
    return files


def write_published_manifest(
    version_dir: Path, model_dir: Path, tmp: Path
) -> tuple[Path, dict[str, Path]]:
    """Copy the model-level files into ``tmp`` and write the manifest to publish there.

    Returns the manifest's path and ``relative path -> copy`` of the model-level
    files: uploading the copies keeps the manifest true to the bytes sent.
    """
    copies = {}
    for rel in model_files(model_dir):
        copy = tmp / "model" / rel
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model_dir / rel, copy)
        copies[rel] = copy
    own = without_model_level((version_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    lines = manifest_text({MODEL_LEVEL_PREFIX + rel: sha256_file(c) for rel, c in copies.items()})
    published = tmp / MANIFEST_NAME
    published.write_text(own + lines, encoding="utf-8")
    return published, copies


def check_pin(base: str, manifest_sha256: str | None) -> None:
    """Refuse a malformed pin, and plain http:// without one."""
    if manifest_sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", manifest_sha256):
        raise UsageError(
            f"--manifest-sha256 {manifest_sha256!r}: give the 64 hex digits "
            "that 'openclaw-model publish' printed as manifest_sha256"
        )
    if urlsplit(base).scheme.lower() == "http" and not manifest_sha256:
        raise UsageError(
            f"{base}: a plain http:// store gives no protection against changes on the way; "
            "pin the published manifest with --manifest-sha256 HASH (the manifest_sha256 that "
            "'openclaw-model publish' printed; the manifest covers every file of the version, "
            "config.yaml and the labels file), or use https://"
        )


def parse_published(manifest: bytes, source: str) -> tuple[bytes, dict[str, str], dict[str, str]]:
    """Return the version's own manifest bytes and the own and model-level entries."""
    try:
        text = manifest.decode("utf-8")
        entries = parse_manifest(text, source)
    except UnicodeDecodeError:
        raise TransferError(f"{source}: the published manifest is not UTF-8 text") from None
    except OpenClawError as exc:
        raise TransferError(
            f"{source}: the published manifest is malformed: {exc.message}"
        ) from exc
    own, model_level = split_model_level(entries)
    if not own:
        raise TransferError(f"{source}: the published manifest lists no files")
    for rel in [*own, *model_level]:
        check_key(rel)  # every path, before a single byte is written
    return without_model_level(text).encode("utf-8"), own, model_level


def fetch_model_files(
    store: Store, name: str, staging: Path, digests: dict[str, str], progress: Progress
) -> list[str]:
    """Fetch config.yaml and its labels file into ``staging``, each checked against the manifest."""
    key = f"{name}/{CONFIG_NAME}"
    if CONFIG_NAME not in digests:
        raise TransferError(
            f"{store.describe(key)}: the published manifest does not cover {CONFIG_NAME} "
            "(published by an older openclaw-model?); publish the version again so its "
            f"SHA256SUMS lists {MODEL_LEVEL_PREFIX}{CONFIG_NAME} and the labels file"
        )
    bound = f"the {SMALL}-byte limit of {CONFIG_NAME}"
    download(store, key, staging / CONFIG_NAME, digests[CONFIG_NAME], SMALL, progress, bound)
    raw = (staging / CONFIG_NAME).read_bytes()
    try:
        config = parse_model_config(yaml.safe_load(raw), name=name, source=store.describe(key))
    except yaml.YAMLError as exc:
        raise TransferError(f"{store.describe(key)}: not valid YAML: {exc}") from exc
    files = [CONFIG_NAME]
    if config.labels:
        files.append(labels_key(config.labels, store.describe(key)))
    extra = sorted(set(digests) - set(files))
    missing = sorted(set(files) - set(digests))
    if extra or missing:
        listed = ", ".join(MODEL_LEVEL_PREFIX + f for f in extra)
        raise TransferError(
            f"{store.describe(key)}: the published manifest "
            + (f"lists {listed}, which config.yaml does not name" if extra else "")
            + (" and " if extra and missing else "")
            + (f"does not cover the labels file {missing[0]}" if missing else "")
            + "; publish the version again with openclaw-model publish"
        )
    if config.labels:
        labels = config.labels
        bound = f"the {_LABELS_MAX}-byte limit of a labels file"
        dest = staging / labels
        dest.parent.mkdir(parents=True, exist_ok=True)
        download(store, f"{name}/{labels}", dest, digests[labels], _LABELS_MAX, progress, bound)
    return files


def check_external_data(partial: Path, own: dict[str, str], source: str) -> None:
    """Refuse a model whose external-data files are not among the version's verified files."""
    model = partial / MODEL_FILE
    if not model.is_file():
        return
    try:
        names = external_data_files(model)
    except OpenClawError as exc:
        raise TransferError(f"{source}: {exc.message}") from exc
    unlisted = [n for n in names if n not in own]
    if unlisted:
        raise TransferError(f"{source}: external data {unlisted} not covered by the manifest")


def install_model_files(staging: Path, model_dir: Path, files: list[str]) -> str:
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

"""SHA-256 manifests of model versions.

The manifest is ``<repo>/<model>/<version>/SHA256SUMS`` in the format of
``sha256sum`` (``<hex>  <relative path>``), so ``sha256sum -c SHA256SUMS`` run
inside the version directory checks it too. It lists every regular file of the
version directory except itself, among them the external-data files of an
ONNX model (which must lie inside the version directory).

A manifest published to a model store also lists the model-level files that
travel with the version, as ``../config.yaml`` and ``../<labels file>``: the
one pinned hash of the manifest then covers every file a fetch installs.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from pathlib import Path
from typing import Any

from ..errors import ChecksumMismatch, ModelLoadError

__all__ = [
    "MANIFEST_NAME",
    "MODEL_LEVEL_PREFIX",
    "compute_digests",
    "external_data_files",
    "manifest_text",
    "parse_manifest",
    "read_manifest",
    "sha256_file",
    "split_model_level",
    "verify_manifest",
    "without_model_level",
    "write_manifest",
]

MANIFEST_NAME = "SHA256SUMS"
MODEL_LEVEL_PREFIX = "../"  # entries for files of the model directory (config.yaml, labels)
_MODEL_FILE = "model.onnx"  # the file the runtime loads (models.session.MODEL_FILE)
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Return the SHA-256 hex digest of a file, read in 1 MiB chunks."""
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


def _safe_relative(name: str) -> bool:
    """True for a plain relative path: no ``..``, not absolute, no hidden part, no backslash."""
    return (
        bool(name)
        and "\\" not in name
        and not name.startswith("/")
        and posixpath.normpath(name) == name
        and not any(part.startswith(".") for part in name.split("/"))
    )


def compute_digests(version_dir: str | os.PathLike[str]) -> dict[str, str]:
    """Return ``relative path -> sha256 hex`` for every file of a version directory."""
    base = Path(version_dir)
    return {p.relative_to(base).as_posix(): sha256_file(p) for p in _files(base)}


def manifest_text(digests: dict[str, str]) -> str:
    """Return manifest lines (``sha256sum`` format, sorted by path) for ``path -> digest``."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(digests.items()))


def write_manifest(version_dir: str | os.PathLike[str]) -> Path:
    """Write (or rewrite) the version directory's SHA256SUMS and return its path."""
    base = Path(version_dir)
    if (base / _MODEL_FILE).is_file():
        external_data_files(base / _MODEL_FILE)  # refuses weights the manifest cannot cover
    target = base / MANIFEST_NAME
    tmp = base / f".{MANIFEST_NAME}.tmp"
    tmp.write_text(manifest_text(compute_digests(base)), encoding="utf-8")
    os.replace(tmp, target)
    return target


def parse_manifest(text: str, source: str) -> dict[str, str]:
    """Return the ``path -> digest`` mapping of manifest text; ``source`` names it in errors."""
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        name = name.lstrip("*")
        if not sep or len(digest) != 64 or not name:
            raise ModelLoadError(f"{source}:{number}: not a sha256sum line: {line!r}")
        entries[name] = digest.lower()
    return entries


def read_manifest(version_dir: str | os.PathLike[str]) -> dict[str, str] | None:
    """Return the manifest's ``path -> digest`` mapping, or None when there is none."""
    path = Path(version_dir) / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise ModelLoadError(f"{path}: not a sha256sum manifest (not UTF-8 text)") from exc
    return parse_manifest(text, str(path))


def split_model_level(entries: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split entries into the version's own files and the model-level ones (prefix removed)."""
    own = {n: d for n, d in entries.items() if not n.startswith(MODEL_LEVEL_PREFIX)}
    model = {
        n[len(MODEL_LEVEL_PREFIX) :]: d
        for n, d in entries.items()
        if n.startswith(MODEL_LEVEL_PREFIX)
    }
    return own, model


def without_model_level(text: str) -> str:
    """Return manifest text without its model-level (``../``) lines, the rest byte for byte."""
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if not line.partition("  ")[2].lstrip("*").startswith(MODEL_LEVEL_PREFIX)
    )


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
    own, model_level = split_model_level(expected)
    actual = compute_digests(base)
    problems = []
    for name, digest in sorted(own.items()):
        if name not in actual:
            problems.append(f"{name}: missing")
        elif actual[name] != digest:
            problems.append(f"{name}: sha256 {actual[name]} != manifest {digest}")
    for name in sorted(set(actual) - set(own)):
        problems.append(f"{name}: not listed in the manifest")
    for name, digest in sorted(model_level.items()):
        # A store's version directory (a file:// store is a repository) lists ../config.yaml.
        path = base.parent / name
        shown = MODEL_LEVEL_PREFIX + name
        if not _safe_relative(name):
            problems.append(f"{shown}: not a file of the model directory")
        elif not path.is_file():
            problems.append(f"{shown}: missing")
        elif (found := sha256_file(path)) != digest:
            problems.append(f"{shown}: sha256 {found} != manifest {digest}")
    if problems:
        raise ChecksumMismatch(f"{base}: checksum verification failed: " + "; ".join(problems))
    return sorted(expected)


def _tensors(graph: Any) -> Any:
    """Yield every tensor of a graph: initializers, attribute tensors, subgraphs' tensors."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("sparse_tensor"):
                yield from (attr.sparse_tensor.values, attr.sparse_tensor.indices)
            for sparse in attr.sparse_tensors:
                yield from (sparse.values, sparse.indices)
            if attr.HasField("g"):
                yield from _tensors(attr.g)
            for sub in attr.graphs:
                yield from _tensors(sub)


def external_data_files(model_path: str | os.PathLike[str], proto: Any = None) -> list[str]:
    """Return the external-data files of an ONNX model, relative to its directory.

    Refuses a location the version's manifest could not cover: outside the
    directory, hidden, behind a symbolic link to a directory, or missing.
    """
    import onnx

    path = Path(model_path)
    if proto is None:
        try:
            proto = onnx.load(str(path), load_external_data=False)
        except Exception:
            return []  # not ONNX: the loader reports that, with its own message
    base = path.parent
    found: set[str] = set()
    for tensor in _tensors(proto.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        name = posixpath.normpath(location) if location else ""
        problem = None
        if not _safe_relative(name):
            problem = "is not a plain relative path inside the version directory"
        elif any((base / p).is_symlink() for p in Path(name).parents if str(p) != "."):
            problem = "lies behind a symbolic link to a directory"
        elif not (base / name).is_file():
            problem = "does not exist"
        elif not (base / name).resolve().is_relative_to(base.resolve()):
            problem = "is a link to a file outside the version directory"
        if problem:
            raise ModelLoadError(
                f"{path}: external data {location!r} of tensor {tensor.name!r} {problem}; "
                "keep the weights in the version directory, next to the model "
                "(onnx.save_model(model, path, save_as_external_data=True, "
                "location='model.onnx.data')), so its SHA256SUMS covers them"
            )
        found.add(name)
    return sorted(found)

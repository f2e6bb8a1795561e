"""Model references (``REPO/NAME/VERSION``) and atomic creation of versions.

A new version is always written into a hidden staging directory next to the
versions (same file system), given its SHA-256 manifest, and only then renamed
into place, so a crash or a failed step never leaves a half-written version
that the runtime could pick up. The manifest code is the runtime's own
(:mod:`openclaw_runtime.models.manifest`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models.manifest import external_data_files, write_manifest
from .errors import ToolchainError, UsageError

__all__ = [
    "EXTERNAL_DATA_FILE",
    "METADATA_NAME",
    "MODEL_FILE",
    "REFERENCE_FILE",
    "ModelRef",
    "install_version",
    "list_versions",
    "model_bytes",
    "next_version",
    "parse_ref",
    "read_metadata",
    "seal_version",
    "staged_version",
]

MODEL_FILE = "model.onnx"
EXTERNAL_DATA_FILE = "model.onnx.data"  # the weights of a model saved with external data
METADATA_NAME = "openclaw-model.json"  # provenance: source, precision, parent version
REFERENCE_FILE = "reference.npz"  # inputs used for INT8-vs-FP32 parity checks


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A model (and optionally one version) in a local repository."""

    repo: Path
    name: str
    version: int | None = None

    @property
    def model_dir(self) -> Path:
        """``<repo>/<name>``."""
        return self.repo / self.name

    @property
    def version_dir(self) -> Path:
        """``<repo>/<name>/<version>``; only for a reference with a version."""
        if self.version is None:
            raise UsageError(f"{self}: a version is needed here (REPO/NAME/VERSION)")
        return self.model_dir / str(self.version)

    def with_version(self, version: int) -> ModelRef:
        """Return the same model at another version."""
        return ModelRef(self.repo, self.name, version)

    def __str__(self) -> str:
        tail = f"/{self.version}" if self.version is not None else ""
        return f"{self.repo}/{self.name}{tail}"


def parse_ref(text: str, *, version: str = "optional") -> ModelRef:
    """Parse ``REPO/NAME[/VERSION]``; ``version`` is ``required``, ``optional`` or ``latest``.

    With ``latest`` a missing version resolves to the newest one on disk.
    """
    parts = Path(text.rstrip("/")).parts
    ver: int | None = None
    if len(parts) >= 3 and parts[-1].isdigit():
        ver = int(parts[-1])
        parts = parts[:-1]
    if len(parts) < 2:
        raise UsageError(f"{text!r}: expected REPO/NAME or REPO/NAME/VERSION")
    ref = ModelRef(Path(*parts[:-1]), parts[-1], ver)
    if not ref.model_dir.is_dir():
        raise ToolchainError(f"{ref.model_dir}: no such model directory")
    if ver is None and version == "required":
        raise UsageError(f"{text!r}: give the version too (REPO/NAME/VERSION)")
    if ver is None and version == "latest":
        found = list_versions(ref.model_dir)
        if not found:
            raise ToolchainError(f"{ref.model_dir}: the model has no versions yet")
        ref = ref.with_version(found[-1])
    if ref.version is not None and not ref.version_dir.is_dir():
        raise ToolchainError(
            f"{ref.version_dir}: no such version (have {list_versions(ref.model_dir)})"
        )
    return ref


def list_versions(model_dir: Path) -> list[int]:
    """Return the version numbers present under ``model_dir``, ascending."""
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def next_version(model_dir: Path) -> int:
    """Return the number a new version of this model gets (1 for a new model)."""
    found = list_versions(model_dir)
    return found[-1] + 1 if found else 1


def model_bytes(version_dir: Path) -> int:
    """Return the size of a version's model: model.onnx plus its external-data files."""
    model = version_dir / MODEL_FILE
    files = [model, *(version_dir / name for name in external_data_files(model))]
    return sum(path.stat().st_size for path in files)


def read_metadata(version_dir: Path) -> dict[str, Any]:
    """Return the toolchain's provenance record of a version ({} when absent)."""
    path = version_dir / METADATA_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise ToolchainError(f"{path}: not valid JSON: {exc}") from exc


@contextmanager
def staged_version(model_dir: Path) -> Iterator[Path]:
    """Yield an empty hidden directory inside ``model_dir``; removed unless installed."""
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=model_dir))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def seal_version(staging: Path, metadata: dict[str, Any] | None = None) -> None:
    """Write the provenance record (if any) and the SHA-256 manifest of a staged version."""
    if metadata is not None:
        (staging / METADATA_NAME).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    write_manifest(staging)


def install_version(staging: Path, model_dir: Path, version: int, *, replace: bool = False) -> Path:
    """Rename a sealed staging directory to ``<model_dir>/<version>``.

    An existing version is replaced only with ``replace``; the old one is moved
    aside first and deleted only after the new one is in place.
    """
    target = model_dir / str(version)
    old: Path | None = None
    if target.exists():
        if not replace:
            raise UsageError(f"{target}: version {version} exists; choose another --version")
        old = model_dir / f".old-{version}-{os.getpid()}"
        os.rename(target, old)
    try:
        os.rename(staging, target)
    except OSError:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target

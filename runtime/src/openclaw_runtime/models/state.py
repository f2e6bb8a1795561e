"""What the model repository records: per-model state, changes, index rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .modelconfig import ModelConfig
from .session import LoadedModel

__all__ = ["LOADING", "READY", "UNAVAILABLE", "Changes", "IndexEntry", "ModelState", "file_stat"]

READY, UNAVAILABLE, LOADING = "READY", "UNAVAILABLE", "LOADING"


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One row of the repository index (Triton's shape)."""

    name: str
    version: str
    state: str
    reason: str = ""


@dataclass
class Changes:
    """Versions published and retired by one repository operation."""

    published: list[LoadedModel] = field(default_factory=list)
    retired: list[LoadedModel] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # (model, version or '' for its config, error code, message) of each failed load.
    failures: list[tuple[str, str, str, str]] = field(default_factory=list)

    def merge(self, other: Changes) -> None:
        """Append another operation's changes."""
        self.published += other.published
        self.retired += other.retired
        self.errors += other.errors
        self.failures += other.failures


@dataclass
class ModelState:
    """One model as the repository knows it: config, serving versions, states, reasons."""

    config: ModelConfig | None = None
    versions: dict[int, LoadedModel] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)
    states: dict[int, str] = field(default_factory=dict)
    fingerprints: dict[int, tuple] = field(default_factory=dict)
    config_fingerprint: tuple = ()
    seen: dict[int, tuple] = field(default_factory=dict)
    reason: str = ""
    wanted: bool = False


def file_stat(path: Path) -> tuple:
    """Return what tells a changed file (mtime, size, inode), or () when it is missing."""
    try:
        st = path.stat()
    except OSError:
        return ()
    return (st.st_mtime_ns, st.st_size, st.st_ino)

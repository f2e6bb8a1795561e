"""The model repository: ``<root>/<model>/config.yaml`` and ``<root>/<model>/<version>/``.

Blocking and thread-safe: the service layer calls :meth:`ModelRepository.load`,
:meth:`unload` and :meth:`poll` from a worker thread; readers on the event loop
see each published version atomically. A version is published only after it
was verified, checked and warmed up; a failed load leaves the version that
served before in place and records the reason for the repository index.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from ..errors import (
    MemoryBudgetExceeded,
    ModelLoadError,
    ModelNotFound,
    ModelNotReady,
    OpenClawError,
)
from .manifest import MANIFEST_NAME
from .modelconfig import CONFIG_NAME, ModelConfig, load_model_config
from .names import check_model_name, check_version, is_model_name, is_version
from .session import MODEL_FILE, LoadedModel, SessionOptions, estimate_memory, load_version
from .state import LOADING, READY, UNAVAILABLE, Changes, IndexEntry, ModelState, file_stat

__all__ = ["Changes", "IndexEntry", "ModelRepository"]


class ModelRepository:
    """Serve the models of one repository directory within a memory budget."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        memory_limit_bytes: int,
        options: SessionOptions = SessionOptions(),  # noqa: B008 - frozen, immutable
        prepare: Callable[[LoadedModel], None] | None = None,
    ) -> None:
        self.root = Path(root)
        # Called on every new version before it is published (the service attaches its batcher).
        self.prepare = prepare
        self.memory_limit_bytes = memory_limit_bytes
        self.options = options
        self._models: dict[str, ModelState] = {}
        self._lock = threading.RLock()

    # --- reading (event loop) -----------------------------------------------------------

    def names(self) -> list[str]:
        """Return the model names present in the repository directory.

        A directory whose name is not a valid model name is not a model: no request
        could name it.
        """
        try:
            return sorted(
                p.name
                for p in self.root.iterdir()
                if is_model_name(p.name) and p.is_dir() and (p / CONFIG_NAME).exists()
            )
        except FileNotFoundError:
            return []

    def config(self, name: str) -> ModelConfig:
        """Return the config of a model (read from disk if it was never loaded)."""
        check_model_name(name)
        model = self._models.get(name)
        if model is not None and model.config is not None:
            return model.config
        if not (self.root / name / CONFIG_NAME).exists():
            raise ModelNotFound(f"unknown model '{name}'")
        return load_model_config(self.root / name)

    def get(self, name: str, version: str | None = None) -> LoadedModel:
        """Return the ready version (newest when ``version`` is None) or raise 400/404/503."""
        check_model_name(name)
        if version is not None:
            check_version(version)
        model = self._models.get(name)
        if model is None or not model.versions:
            if model is None and not (self.root / name / CONFIG_NAME).exists():
                raise ModelNotFound(f"unknown model '{name}'")
            if version is not None and not self._version_exists(name, version):
                raise ModelNotFound(f"unknown version '{version}' of model '{name}'")
            reason = f": {model.reason}" if model is not None and model.reason else ""
            raise ModelNotReady(f"model '{name}' is not ready{reason}")
        versions = model.versions
        if version is None:
            return versions[max(versions)]
        number = int(version)
        found = versions.get(number)
        if found is None:
            if not self._version_exists(name, version):
                raise ModelNotFound(f"unknown version '{version}' of model '{name}'")
            reason = model.reasons.get(number) or "not loaded (version policy or unload)"
            raise ModelNotReady(f"version {version} of model '{name}' is not ready: {reason}")
        return found

    def _version_exists(self, name: str, version: str) -> bool:
        return (self.root / name / version / MODEL_FILE).exists()

    def require(self, name: str) -> None:
        """Raise unless ``name`` is a valid name of a model known here or on disk.

        Callers that keep something per model name (locks, actions for sibling
        workers) call this first, so that unknown names never grow their state.
        """
        check_model_name(name)
        if name not in self._models and not (self.root / name / CONFIG_NAME).exists():
            raise ModelNotFound(f"unknown model '{name}'")

    def loaded(self) -> list[LoadedModel]:
        """Return every published version."""
        return [v for m in list(self._models.values()) for v in list(m.versions.values())]

    def memory_used(self) -> int:
        """Return the memory accounted to published versions, in bytes."""
        return sum(v.memory_bytes for v in self.loaded())

    def index(self, *, ready_only: bool = False) -> list[IndexEntry]:
        """Return the repository index: every model and version with state and reason."""
        out: list[IndexEntry] = []
        for name in sorted(set(self.names()) | set(self._models)):
            model = self._models.get(name)
            versions = set(self._disk_versions(name))
            if model is not None:
                versions |= set(model.versions) | set(model.states)
            if not versions:
                out.append(IndexEntry(name, "", UNAVAILABLE, model.reason if model else ""))
            for v in sorted(versions):
                if model is not None and v in model.versions:
                    state, reason = READY, model.reasons.get(v, "")
                elif model is not None:
                    state = model.states.get(v, UNAVAILABLE)
                    reason = model.reasons.get(v, model.reason)
                else:
                    state, reason = UNAVAILABLE, ""
                if not ready_only or state == READY:
                    out.append(IndexEntry(name, str(v), state, reason))
        return out

    def _disk_versions(self, name: str) -> list[int]:
        try:
            return sorted(
                int(p.name)
                for p in (self.root / name).iterdir()
                if is_version(p.name) and p.is_dir() and (p / MODEL_FILE).exists()
            )
        except (FileNotFoundError, NotADirectoryError):
            return []

    def _fingerprint(self, name: str, version: int) -> tuple:
        vdir = self.root / name / str(version)
        return (file_stat(vdir / MODEL_FILE), file_stat(vdir / MANIFEST_NAME))

    # --- changing (worker thread) -------------------------------------------------------

    def load(self, name: str, *, explicit: bool = True) -> Changes:
        """(Re)load a model: publish the versions its policy selects, retire the others."""
        check_model_name(name)
        with self._lock:
            model = self._models.setdefault(name, ModelState())
            if explicit:
                model.wanted = True
            changes = Changes()
            try:
                config = load_model_config(self.root / name)
            except OpenClawError as exc:
                if not (self.root / name).is_dir():
                    self._models.pop(name, None)
                    raise ModelNotFound(f"unknown model '{name}'") from exc
                model.reason = exc.message
                changes.errors.append(exc.message)
                changes.failures.append((name, "", exc.code, exc.message))
                return changes
            model.config_fingerprint = file_stat(self.root / name / CONFIG_NAME)
            config_changed = model.config is not None and model.config != config
            model.config = config
            model.reason = ""
            on_disk = self._disk_versions(name)
            model.seen = {v: self._fingerprint(name, v) for v in on_disk}
            selected = config.version_policy.select(on_disk)
            if not selected:
                model.reason = "no version directory with a model.onnx"
            for version in selected:
                self._ensure(name, model, config, version, config_changed, explicit, changes)
            complete = all(v in model.versions for v in selected)
            keep = set(selected)
            policy = config.version_policy
            if not complete and not policy.all and policy.specific is None:
                # latest(n) serves the newest n versions that load: a broken newest version
                # (its reason stays in the index) falls back to the next older one.
                want = policy.latest or 1
                serving = [v for v in selected if v in model.versions]
                for version in sorted((v for v in on_disk if v not in keep), reverse=True):
                    if len(serving) >= want:
                        break
                    self._ensure(name, model, config, version, config_changed, explicit, changes)
                    if version in model.versions:
                        serving.append(version)
                        keep.add(version)
                complete = len(serving) >= want
            # Retire versions outside the policy only once it is satisfied: a failed load
            # of a new version leaves the old one serving.
            for version in [v for v in model.versions if v not in keep and complete]:
                changes.retired.append(model.versions.pop(version))
                model.states.pop(version, None)
                model.reasons.pop(version, None)
            for version in [v for v in model.states if v not in keep]:
                model.states.pop(version, None)
                model.reasons.pop(version, None)
            return changes

    def _ensure(
        self,
        name: str,
        model: ModelState,
        config: ModelConfig,
        version: int,
        config_changed: bool,
        explicit: bool,
        changes: Changes,
    ) -> None:
        """Load ``version`` unless it already serves unchanged (or failed unchanged on a poll)."""
        fingerprint = self._fingerprint(name, version)
        current = model.versions.get(version)
        same = model.fingerprints.get(version) == fingerprint
        if current is not None and same and not config_changed:
            return
        if current is None and same and version in model.reasons and not explicit:
            return  # failed before and nothing changed: do not retry in a loop
        changes.merge(self._load_version(name, model, config, version, fingerprint))

    def _load_version(
        self, name: str, model: ModelState, config: ModelConfig, version: int, fingerprint: tuple
    ) -> Changes:
        changes = Changes()
        model.fingerprints[version] = fingerprint
        if version not in model.versions:
            model.states[version] = LOADING
        try:
            changes.retired += self._make_room(name, version)
            loaded = load_version(self.root / name, version, config, self.options)
            if self.memory_used() + loaded.memory_bytes > self.memory_limit_bytes:
                changes.retired += self._make_room(name, version, loaded.memory_bytes)
        except OpenClawError as exc:
            model.reasons[version] = exc.message
            model.states[version] = READY if version in model.versions else UNAVAILABLE
            changes.errors.append(exc.message)
            changes.failures.append((name, str(version), exc.code, exc.message))
            return changes
        if self.prepare is not None:
            self.prepare(loaded)
        old = model.versions.get(version)
        model.versions[version] = loaded
        model.states[version] = READY
        model.reasons.pop(version, None)
        changes.published.append(loaded)
        if old is not None:
            changes.retired.append(old)
        return changes

    def _estimate(self, name: str, version: int) -> int:
        try:
            return estimate_memory(self.root / name / str(version) / MODEL_FILE)
        except OSError:
            return 0

    def _make_room(self, name: str, version: int, need: int | None = None) -> list[LoadedModel]:
        """Evict least-recently-used on-demand versions until ``need`` bytes fit."""
        need = self._estimate(name, version) if need is None else need
        if need > self.memory_limit_bytes:
            raise MemoryBudgetExceeded(
                f"model '{name}' version {version} needs about {need >> 20} MiB, more than the "
                f"whole model memory budget of {self.memory_limit_bytes >> 20} MiB per worker "
                "(models.memory_limit_mb)"
            )
        retired: list[LoadedModel] = []
        used = self.memory_used()
        candidates = sorted(
            (
                v
                for v in self.loaded()
                if v.config.load == "on_demand" and not (v.name == name and v.version == version)
            ),
            key=lambda v: v.last_used,
        )
        while used + need > self.memory_limit_bytes and candidates:
            victim = candidates.pop(0)
            m = self._models[victim.name]
            m.versions.pop(victim.version, None)
            m.states[victim.version] = UNAVAILABLE
            m.reasons[victim.version] = "evicted (least recently used) to fit the memory budget"
            used -= victim.memory_bytes
            retired.append(victim)
        if used + need > self.memory_limit_bytes:
            raise MemoryBudgetExceeded(
                f"model '{name}' version {version} needs about {need >> 20} MiB but only "
                f"{(self.memory_limit_bytes - used) >> 20} MiB of the model memory budget "
                f"({self.memory_limit_bytes >> 20} MiB per worker) is free and nothing can be "
                "evicted (only load: on_demand models are evicted)"
            )
        return retired

    def unload(self, name: str) -> Changes:
        """Retire every version of a model; it stays unloaded until loaded again."""
        check_model_name(name)
        with self._lock:
            model = self._models.get(name)
            if model is None:
                if not (self.root / name / CONFIG_NAME).exists():
                    raise ModelNotFound(f"unknown model '{name}'")
                model = self._models.setdefault(name, ModelState())
            changes = Changes(retired=list(model.versions.values()))
            for version in model.versions:
                model.states[version] = UNAVAILABLE
                model.reasons[version] = "unloaded"
            model.versions.clear()
            model.fingerprints.clear()
            model.wanted = False
            return changes

    def poll(self) -> Changes:
        """Reload wanted models whose files changed; pick up new versions (hot reload)."""
        changes = Changes()
        for name, model in list(self._models.items()):
            if not model.wanted:
                continue
            if not (self.root / name / CONFIG_NAME).exists():
                changes.merge(self.unload(name))
                continue
            current = {v: self._fingerprint(name, v) for v in self._disk_versions(name)}
            config_stat = file_stat(self.root / name / CONFIG_NAME)
            if current != model.seen or model.config_fingerprint != config_stat:
                try:
                    changes.merge(self.load(name, explicit=False))
                except ModelLoadError as exc:
                    changes.errors.append(exc.message)
        return changes

"""The inference service: the core API the HTTP layer calls (no web framework here).

It owns the model repository, one batcher per published model version, the
statistics and the metrics. Requests are checked against the model by
:mod:`.protocol.validate` (and classified by :mod:`.protocol.classify`); the
sibling workers' actions and statistics files go through
:class:`.models.siblings.SiblingSync`. Extension points: a result cache
(:class:`.cache.consult.ResultCacheProtocol`) consulted after validation and
before the batcher (fail-open), and any number of ``on_change`` callbacks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .batching.attach import attach_batcher
from .cache.consult import ResultCacheProtocol, cached_outputs, store_outputs
from .config import Settings
from .errors import ModelNotReady, OpenClawError
from .heartbeat import Heartbeat
from .metrics import Metrics, ModelStats
from .metrics.stats import merge_entries
from .models.repository import Changes, IndexEntry, ModelRepository
from .models.session import LoadedModel, SessionOptions
from .models.siblings import SiblingSync
from .protocol.classify import classify, requested_classes
from .protocol.types import InferenceRequest, InferenceResponse, Tensor
from .protocol.validate import select_outputs, validate_inputs

__all__ = ["InferenceService"]

log = logging.getLogger("openclaw.service")


class InferenceService:
    """Everything a request needs, behind a small async API."""

    def __init__(
        self,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        cache: ResultCacheProtocol | None = None,
        workers: int = 1,
    ) -> None:
        self.settings = settings
        ms = settings.models
        self.repository = ModelRepository(
            ms.repository,
            memory_limit_bytes=(ms.memory_limit_mb << 20) // max(1, workers),
            options=SessionOptions(
                ms.intra_op_threads,
                ms.inter_op_threads,
                ms.verify_checksums,
                ms.require_manifest,
                isolate_checks=True,
                default_max_batch_size=settings.batching.max_batch_size,
            ),
            prepare=self._attach,
        )
        self.metrics = metrics
        self.cache = cache
        self.on_change: list[Callable[[Changes], None]] = []
        self._stats: dict[tuple[str, str], ModelStats] = {}
        self._loader = ThreadPoolExecutor(1, thread_name_prefix="model-loader")
        self._load_locks: dict[str, asyncio.Lock] = {}
        self._started = False
        self._draining = False
        self._poller: asyncio.Task | None = None
        self._controller: asyncio.Task | None = None
        # Explicit load/unload actions and statistics shared with the sibling workers.
        self.siblings = SiblingSync.from_env()
        # Requests inside infer(); read by the in-flight gauge when it is sampled.
        self.in_flight = 0
        # Liveness, the supervisor's heartbeat and the sampled gauges (heartbeat module).
        self.heartbeat = Heartbeat(settings.server.worker_hang_seconds, on_tick=self.sample_load)
        if metrics is not None:
            metrics.samplers.append(self.sample_load)

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Return True once start-up models are loaded and until draining begins."""
        return self._started and not self._draining

    @property
    def live(self) -> bool:
        """Return True while the event loop turns within server.worker_hang_seconds.

        Ready or not: loading models does not block the loop. False before
        :meth:`start` (or ``heartbeat.start``) and once the heartbeat stopped.
        """
        return self.heartbeat.live

    def sample_load(self) -> None:
        """Set the in-flight and queue-depth gauges from the counters (per sample, not request)."""
        if self.metrics is None:
            return
        depths = {
            (v.name, str(v.version)): v.batcher.queue_depth
            for v in self.repository.loaded()
            if v.batcher is not None
        }
        self.metrics.set_load(self.in_flight, depths)
        if self.metrics.failures:
            self.metrics.reconcile_failures(self.repository.index())

    async def start(self) -> None:
        """Start the heartbeat, load and warm up the start-up models, then poll for changes."""
        self.heartbeat.start()
        wanted = self.settings.models.startup_models
        actions = self.siblings.startup_actions()
        for name in self.repository.names():
            action = actions.get(name)
            if action == "unload":
                continue  # unloaded through the API before this worker (re)started
            if action == "load":
                pass
            elif "*" in wanted:
                try:
                    if self.repository.config(name).load == "on_demand":
                        continue
                except OpenClawError as exc:
                    log.warning("model config invalid", extra={"model": name, "error": exc.message})
                    continue
            elif name not in wanted:
                continue
            await self.load(name, raise_errors=False)
        missing = [n for n in wanted if n != "*" and n not in self.repository.names()]
        for name in missing:
            log.warning("start-up model not in repository", extra={"model": name})
        if self.settings.models.poll_interval_seconds > 0:
            self._poller = asyncio.create_task(self._poll_loop())
        if self.siblings.directory:
            self._controller = asyncio.create_task(
                self.siblings.run(self._sibling_action, self._stat_entries)
            )
        self._started = True

    def begin_drain(self) -> None:
        """Report not-ready from now on (SIGTERM); in-flight requests still finish."""
        self._draining = True

    async def close(self) -> None:
        """Stop polling and the heartbeat, and release sessions."""
        self.heartbeat.stop()
        for task in (self._poller, self._controller):
            if task is not None:
                task.cancel()
        for loaded in self.repository.loaded():
            if loaded.batcher is not None:
                loaded.batcher.close()
        self._loader.shutdown(wait=False, cancel_futures=True)
        self.siblings.publish_stats(self._stat_entries())

    async def _poll_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.settings.models.poll_interval_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                changes = await loop.run_in_executor(self._loader, self.repository.poll)
                self._apply(changes)
            except Exception:
                log.exception("repository poll failed")

    async def _sibling_action(self, name: str, action: str) -> None:
        """Apply a load/unload action that a sibling worker received through the API."""
        if action == "unload":
            await self.unload(name)
        else:
            await self.load(name, raise_errors=False)

    # --- repository operations -----------------------------------------------------------

    def _apply(self, changes: Changes) -> None:
        for loaded in changes.published:
            log.info(
                "model version ready",
                extra={
                    "model": loaded.name,
                    "version": loaded.version,
                    "memory_bytes": loaded.memory_bytes,
                },
            )
            if self.metrics:
                self.metrics.set_model(loaded.name, str(loaded.version), True, loaded.memory_bytes)
        for loaded in changes.retired:
            if loaded.batcher is not None:
                loaded.batcher.close()
            log.info(
                "model version retired", extra={"model": loaded.name, "version": loaded.version}
            )
            if self.metrics and loaded not in changes.published:
                current = self.repository.loaded()
                if not any(v.name == loaded.name and v.version == loaded.version for v in current):
                    self.metrics.set_model(loaded.name, str(loaded.version), False, 0)
        for message in changes.errors:
            log.warning("model load failed", extra={"error": message})
        if self.metrics:
            for name, version, code, message in changes.failures:
                self.metrics.model_failed(name, version, code, message)
        for callback in self.on_change:
            callback(changes)

    def _attach(self, loaded: LoadedModel) -> None:
        version = str(loaded.version)
        children = self.metrics.children(loaded.name, version) if self.metrics else None
        attach_batcher(
            loaded, self.settings.batching, self.stats_for(loaded.name, version), children
        )

    def stats_for(self, name: str, version: str) -> ModelStats:
        """Return (creating) the statistics of one model version."""
        key = (name, version)
        found = self._stats.get(key)
        if found is None:
            found = self._stats[key] = ModelStats(name, version)
        return found

    async def load(
        self, name: str, *, raise_errors: bool = True, broadcast: bool = False
    ) -> Changes:
        """Load (or reload) a model in the background thread and publish its versions.

        ``broadcast`` (the repository API) also tells the sibling workers.
        """
        self.repository.require(name)  # before any per-name state: a bad name adds none
        lock = self._load_locks.setdefault(name, asyncio.Lock())
        async with lock:
            if broadcast:
                self.siblings.broadcast(name, "load")
            loop = asyncio.get_running_loop()
            changes = await loop.run_in_executor(self._loader, self.repository.load, name)
            self._apply(changes)
        if raise_errors and changes.errors and not changes.published:
            try:
                self.repository.get(name)
            except OpenClawError:
                from .errors import ModelLoadError

                raise ModelLoadError(
                    f"failed to load '{name}': " + "; ".join(changes.errors)
                ) from None
        return changes

    async def unload(self, name: str, *, broadcast: bool = False) -> Changes:
        """Unload every version of a model (in-flight requests finish first)."""
        self.repository.require(name)
        lock = self._load_locks.setdefault(name, asyncio.Lock())
        async with lock:
            changes = self.repository.unload(name)
            self._apply(changes)
            if broadcast:
                self.siblings.broadcast(name, "unload")
        return changes

    def index(self, *, ready_only: bool = False) -> list[IndexEntry]:
        """Return the repository index."""
        return self.repository.index(ready_only=ready_only)

    async def resolve(self, name: str, version: str | None = None) -> LoadedModel:
        """Return the serving version, loading an on-demand model first if needed."""
        try:
            return self.repository.get(name, version)
        except ModelNotReady:
            config = self.repository.config(name)
            if config.load != "on_demand":
                raise
        await self.load(name)
        return self.repository.get(name, version)

    # --- inference -----------------------------------------------------------------------

    async def infer(self, loaded: LoadedModel, request: InferenceRequest) -> InferenceResponse:
        """Validate ``request`` against a model from :meth:`resolve`, batch it, return outputs."""
        start = time.monotonic_ns()
        loaded.last_used = time.monotonic()
        stats = self.stats_for(loaded.name, str(loaded.version))
        children = self.metrics.children(loaded.name, str(loaded.version)) if self.metrics else None
        ok = False
        batched = False  # counted in the Prometheus series by the batch (on_batch)
        rows = 0
        self.in_flight += 1
        try:
            feeds, rows = validate_inputs(loaded, request)
            names = select_outputs(loaded, request)
            classes = requested_classes(loaded, request) if request.outputs else None
            outputs = None
            params = request.parameters
            if self.cache is not None:
                outputs = await cached_outputs(self.cache, loaded, feeds, params, stats)
            if outputs is None:
                timeout = params.get("timeout") if params else None
                if not isinstance(timeout, int) or timeout < 0:
                    over = loaded.config.batching.default_timeout_us
                    timeout = self.settings.batching.default_timeout_us if over is None else over
                outputs = await loaded.batcher.infer(feeds, timeout_us=timeout, started_ns=start)
                batched = True
                if self.cache is not None:
                    await store_outputs(self.cache, loaded, feeds, params, outputs)
            specs = loaded.config.outputs
            result = [
                Tensor(spec.name, spec.datatype, out)
                for spec, out in zip(specs, outputs, strict=True)
                if names is None or spec.name in names
            ]
            if classes:
                result = [
                    classify(loaded, t, classes[t.name]) if t.name in classes else t for t in result
                ]
            ok = True
            return InferenceResponse(loaded.name, str(loaded.version), result, request.id)
        finally:
            self.in_flight -= 1
            elapsed = time.monotonic_ns() - start
            stats.request_done(ok, elapsed, rows)
            if children is not None and not batched:
                (children[0] if ok else children[1]).inc()
                children[2].observe(elapsed / 1e9)

    def statistics(self, name: str | None = None, version: str | None = None) -> dict[str, Any]:
        """Return Triton-shaped statistics for all models, one model, or one version."""
        if name is not None:
            if version is not None:
                self.repository.get(name, version)
            else:
                self.repository.config(name)
        entries = merge_entries(self._stat_entries() + self.siblings.sibling_stats())
        return {
            "model_stats": [
                e for e in entries if name in (None, e["name"]) and version in (None, e["version"])
            ]
        }

    def _stat_entries(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self._stats.values()]

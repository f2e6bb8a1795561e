"""The inference service: the core API the HTTP layer calls (no web framework here).

It owns the model repository, one batcher per published model version, the
statistics and the metrics, and it validates requests against the model's
declared inputs. Extension points: a ``ResultCache`` consulted after
validation and before the batcher (fail-open), and any number of
``on_change`` callbacks.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

from .batching import Batcher, BatchRecord
from .config import Settings
from .errors import InvalidInput, ModelNotReady, OpenClawError, clip
from .heartbeat import Heartbeat
from .metrics import Metrics, ModelStats, observe_many
from .metrics.stats import merge_entries
from .models.control import CONTROL_ENV, read_actions, write_action
from .models.repository import Changes, IndexEntry, ModelRepository
from .models.session import LoadedModel, SessionOptions
from .protocol.datatypes import DATATYPES
from .protocol.types import InferenceRequest, InferenceResponse, Tensor

__all__ = ["InferenceService", "ResultCache"]

log = logging.getLogger("openclaw.service")

CONTROL_INTERVAL = 0.5  # seconds between scans of the shared repository actions


class ResultCache(Protocol):
    """A result cache plugged in before the batcher (implemented by ``openclaw_runtime.cache``)."""

    async def get(
        self, model: LoadedModel, inputs: dict[str, np.ndarray], parameters: dict[str, Any]
    ) -> list[np.ndarray] | None:
        """Return cached outputs (in ``model.output_names`` order) or None."""

    async def put(
        self,
        model: LoadedModel,
        inputs: dict[str, np.ndarray],
        parameters: dict[str, Any],
        outputs: list[np.ndarray],
    ) -> None:
        """Store outputs for these inputs."""


class InferenceService:
    """Everything a request needs, behind a small async API."""

    def __init__(
        self,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        cache: ResultCache | None = None,
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
        # Shared with sibling workers: explicit load/unload actions (see models.control).
        self.control_dir = os.environ.get(CONTROL_ENV) or None
        self._applied: dict[str, int] = {}
        # Statistics shared with the siblings: <control dir>/stats/<pid>-<start ns>.json,
        # kept after a worker exits so that /stats counts stay cumulative across restarts.
        self._stats_dir = os.path.join(self.control_dir, "stats") if self.control_dir else None
        self._stats_file = f"{os.getpid()}-{time.time_ns()}.json"
        self._published = b""
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
            (v.name, str(v.version)): v.scheduler.queue_depth
            for v in self.repository.loaded()
            if v.scheduler is not None
        }
        self.metrics.set_load(self.in_flight, depths)

    async def start(self) -> None:
        """Start the heartbeat, load and warm up the start-up models, then poll for changes."""
        self.heartbeat.start()
        wanted = self.settings.models.startup_models
        actions = read_actions(self.control_dir) if self.control_dir else {}
        self._applied = {name: doc["seq"] for name, doc in actions.items()}
        for name in self.repository.names():
            action = actions.get(name, {}).get("action")
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
        if self.control_dir:
            self._controller = asyncio.create_task(self._control_loop())
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
            if loaded.scheduler is not None:
                loaded.scheduler.close()
        self._loader.shutdown(wait=False, cancel_futures=True)
        self.publish_stats()

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

    async def _control_loop(self) -> None:
        """Apply load/unload actions that sibling workers received through the API."""
        me = os.getpid()
        while True:
            await asyncio.sleep(CONTROL_INTERVAL)
            try:
                for name, doc in read_actions(self.control_dir).items():
                    if doc["seq"] <= self._applied.get(name, 0):
                        continue
                    self._applied[name] = doc["seq"]
                    if doc.get("origin") == me:
                        continue
                    if doc["action"] == "unload":
                        await self.unload(name)
                    else:
                        await self.load(name, raise_errors=False)
            except Exception:
                log.exception("applying repository actions failed")
            try:
                self.publish_stats()
            except OSError as exc:
                log.warning("cannot share statistics with sibling workers: %s", exc)

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
            if loaded.scheduler is not None:
                loaded.scheduler.close()
            log.info(
                "model version retired", extra={"model": loaded.name, "version": loaded.version}
            )
            if self.metrics and loaded not in changes.published:
                current = self.repository.loaded()
                if not any(v.name == loaded.name and v.version == loaded.version for v in current):
                    self.metrics.set_model(loaded.name, str(loaded.version), False, 0)
        for message in changes.errors:
            log.warning("model load failed", extra={"error": message})
        for callback in self.on_change:
            callback(changes)

    def _attach(self, loaded: LoadedModel) -> None:
        b = self.settings.batching
        over = loaded.config.batching
        max_batch = loaded.config.max_batch_size  # resolved by load_version: never None
        stats = self.stats_for(loaded.name, str(loaded.version))
        children = self.metrics.children(loaded.name, str(loaded.version)) if self.metrics else None

        def on_batch(record: BatchRecord) -> None:
            stats.batch_done(
                record.rows, record.queue_ns, record.compute_ns, record.input_ns, record.output_ns
            )
            if children is not None:
                # One write per series and bucket for the whole batch (multiprocess writes
                # are locked mmap updates), before any of its responses is sent.
                ok_c, _, request_h, queue_h, compute_h, batch_h = children
                batch_h.observe(record.rows)
                compute_h.observe(record.compute_ns / 1e9)
                observe_many(queue_h, [q / 1e9 for q in record.queue_ns])
                if record.ok:
                    ok_c.inc(record.requests)
                    observe_many(request_h, [r / 1e9 for r in record.request_ns])

        # session.run itself, not loaded.run: a bound method would make loaded -> batcher ->
        # loaded a reference cycle, and a retired version's session would then wait for
        # the cyclic garbage collector (or forever, if the worker has frozen its heap).
        loaded.scheduler = Batcher(
            functools.partial(loaded.session.run, loaded.output_names),
            name=f"{loaded.name}:{loaded.version}",
            max_batch_size=max_batch,
            max_queue_delay_us=(
                b.max_queue_delay_us if over.max_queue_delay_us is None else over.max_queue_delay_us
            ),
            max_queue_size=b.max_queue_size if over.max_queue_size is None else over.max_queue_size,
            execution=b.execution,
            on_batch=on_batch,
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
                self._broadcast(name, "load")
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
                self._broadcast(name, "unload")
        return changes

    def _broadcast(self, name: str, action: str) -> None:
        if self.control_dir:
            self._applied[name] = write_action(self.control_dir, name, action)

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
            feeds, rows = _validate(loaded, request)
            names = _select_outputs(loaded, request)
            classes = _classification(loaded, request) if request.outputs else None
            outputs = None
            params = request.parameters
            if self.cache is not None:
                outputs = await self._cache_get(loaded, feeds, params, stats)
            if outputs is None:
                timeout = params.get("timeout") if params else None
                if not isinstance(timeout, int) or timeout < 0:
                    over = loaded.config.batching.default_timeout_us
                    timeout = self.settings.batching.default_timeout_us if over is None else over
                outputs = await loaded.scheduler.infer(feeds, timeout_us=timeout, started_ns=start)
                batched = True
                if self.cache is not None:
                    await self._cache_put(loaded, feeds, params, outputs)
            specs = loaded.config.outputs
            result = [
                Tensor(spec.name, spec.datatype, out)
                for spec, out in zip(specs, outputs, strict=True)
                if names is None or spec.name in names
            ]
            if classes:
                result = [
                    _classify(loaded, t, classes[t.name]) if t.name in classes else t
                    for t in result
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

    async def _cache_get(self, loaded, feeds, params, stats) -> list[np.ndarray] | None:
        t0 = time.monotonic_ns()
        try:
            found = await self.cache.get(loaded, feeds, params)
        except Exception:
            log.warning("result cache lookup failed", exc_info=True)
            return None
        (stats.cache_hit if found is not None else stats.cache_miss).add(time.monotonic_ns() - t0)
        return found

    async def _cache_put(self, loaded, feeds, params, outputs) -> None:
        try:
            await self.cache.put(loaded, feeds, params, outputs)
        except Exception:
            log.warning("result cache store failed", exc_info=True)

    def statistics(self, name: str | None = None, version: str | None = None) -> dict[str, Any]:
        """Return Triton-shaped statistics for all models, one model, or one version."""
        if name is not None:
            if version is not None:
                self.repository.get(name, version)
            else:
                self.repository.config(name)
        entries = merge_entries([s.to_dict() for s in self._stats.values()] + self._siblings())
        return {
            "model_stats": [
                e for e in entries if name in (None, e["name"]) and version in (None, e["version"])
            ]
        }

    def publish_stats(self) -> None:
        """Write this worker's statistics for its siblings' /stats answers (when changed).

        Called every CONTROL_INTERVAL and at close, so a sibling's figures lag by at
        most that interval.
        """
        if self._stats_dir is None:
            return
        raw = json.dumps([s.to_dict() for s in self._stats.values()]).encode()
        if raw == self._published:
            return
        os.makedirs(self._stats_dir, exist_ok=True)
        path = os.path.join(self._stats_dir, self._stats_file)
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(raw)
        os.replace(tmp, path)
        self._published = raw

    def _siblings(self) -> list[dict[str, Any]]:
        if self._stats_dir is None:
            return []
        try:
            names = os.listdir(self._stats_dir)
        except FileNotFoundError:
            return []
        out: list[dict[str, Any]] = []
        for file in names:
            if file == self._stats_file or not file.endswith(".json"):
                continue
            try:
                with open(os.path.join(self._stats_dir, file), "rb") as fh:
                    doc = json.loads(fh.read())
            except (OSError, ValueError):
                continue  # vanished or replaced while reading: the next answer has it
            if isinstance(doc, list):
                out.extend(e for e in doc if isinstance(e, dict) and "name" in e)
        return out


def _validate(loaded: LoadedModel, request: InferenceRequest) -> tuple[dict[str, np.ndarray], int]:
    config = loaded.config
    batched = config.max_batch_size > 0
    if request.raw is not None:
        return _raw_input(loaded, request.raw)
    feeds: dict[str, np.ndarray] = {}
    rows = -1
    specs = loaded.input_specs
    for tensor in request.inputs:
        spec = specs.get(tensor.name)
        if spec is None:
            raise InvalidInput(
                f"unknown input '{clip(tensor.name)}' for model '{loaded.name}'; it takes "
                + ", ".join(f"'{s.name}'" for s in config.inputs)
            )
        if tensor.name in feeds:
            raise InvalidInput(f"input '{clip(tensor.name)}' is given twice")
        if tensor.datatype != spec.datatype:
            raise InvalidInput(
                f"input '{clip(tensor.name)}': datatype {tensor.datatype} given, "
                f"model '{loaded.name}' expects {spec.datatype}"
            )
        arr = tensor.data
        shape = arr.shape[1:] if batched else arr.shape
        if (batched and arr.ndim == 0) or (
            shape != spec.shape
            and (
                len(shape) != len(spec.shape)
                or any(e not in (d, -1) for d, e in zip(shape, spec.shape, strict=True))
            )
        ):
            expected = ", ".join("-1" if d == -1 else str(d) for d in spec.shape)
            raise InvalidInput(
                f"input '{clip(tensor.name)}': shape {list(arr.shape)} given, "
                f"model '{loaded.name}' expects [{'-1, ' if batched else ''}{expected}] "
                "(-1 = any size)"
            )
        if batched:
            if arr.shape[0] == 0:
                raise InvalidInput(
                    f"input '{clip(tensor.name)}': empty batch (0 rows); send >= 1 row"
                )
            if rows not in (-1, arr.shape[0]):
                raise InvalidInput(
                    f"input '{clip(tensor.name)}': {arr.shape[0]} rows, other inputs have {rows}"
                )
            rows = arr.shape[0]
        if spec.datatype == "BYTES":
            arr = np.vectorize(_to_str, otypes=[object])(arr) if arr.size else arr
        feeds[tensor.name] = arr
    missing = [s.name for s in config.inputs if s.name not in feeds]
    if missing:
        raise InvalidInput(f"model '{loaded.name}' needs input(s) {missing}, not given")
    return feeds, max(rows, 1)


def _to_str(item: Any) -> str:
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)


def _raw_input(loaded: LoadedModel, raw: bytes) -> tuple[dict[str, np.ndarray], int]:
    config = loaded.config
    if len(config.inputs) != 1:
        raise InvalidInput(
            f"raw binary requests (Inference-Header-Content-Length: 0) need a model with one "
            f"input; '{loaded.name}' has {len(config.inputs)}"
        )
    spec = config.inputs[0]
    if spec.datatype == "BYTES" or -1 in spec.shape:
        raise InvalidInput(f"input '{spec.name}': raw binary mode needs a fixed-size numeric input")
    dtype = DATATYPES[spec.datatype].newbyteorder("<")
    row_bytes = math.prod(spec.shape) * dtype.itemsize
    if config.max_batch_size > 0:
        if not raw or len(raw) % row_bytes:
            raise InvalidInput(
                f"input '{spec.name}': raw body of {len(raw)} bytes is not a whole number of "
                f"{row_bytes}-byte rows"
            )
        shape = (len(raw) // row_bytes, *spec.shape)
    else:
        if len(raw) != row_bytes:
            raise InvalidInput(f"input '{spec.name}': raw body must be {row_bytes} bytes")
        shape = spec.shape
    arr = np.frombuffer(raw, dtype=dtype).reshape(shape)
    return {spec.name: arr}, shape[0] if config.max_batch_size > 0 else 1


def _select_outputs(loaded: LoadedModel, request: InferenceRequest) -> set[str] | None:
    if not request.outputs:
        return None
    known = set(loaded.output_names)
    names = {o.name for o in request.outputs}
    unknown = sorted(names - known)
    if unknown:
        raise InvalidInput(
            f"unknown output(s) {clip(repr(unknown))} for model '{loaded.name}'; "
            f"it has {sorted(known)}"
        )
    return names


def _classification(loaded: LoadedModel, request: InferenceRequest) -> dict[str, int] | None:
    """Return {output name: top-k} for outputs requested with ``parameters.classification``."""
    found: dict[str, int] = {}
    for out in request.outputs or ():
        k = out.parameters.get("classification")
        if k is None:
            continue
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidInput(
                f"output '{clip(out.name)}': parameters.classification must be a positive "
                f"integer (the number of top classes to return), got {clip(repr(k))}"
            )
        spec = next(s for s in loaded.config.outputs if s.name == out.name)
        if spec.datatype in ("BYTES", "BOOL"):
            raise InvalidInput(
                f"output '{out.name}' is {spec.datatype}: classification needs a numeric output"
            )
        found[out.name] = k
    return found or None


def _classify(loaded: LoadedModel, tensor: Tensor, k: int) -> Tensor:
    """Replace scores by the top ``k`` classes as "<score>:<index>[:<label>]" strings.

    The classification extension of the Open Inference Protocol (Triton's format): per
    batch row for a batched model, over the whole tensor otherwise; ``k`` is capped at
    the number of classes; labels come from the model's labels file when it has one.
    """
    data = tensor.data
    batched = loaded.config.max_batch_size > 0
    rows = data.reshape(data.shape[0], -1) if batched and data.ndim else data.reshape(1, -1)
    k = min(k, rows.shape[1])
    labels = loaded.labels
    floating = rows.dtype.kind == "f"
    # Enough significant digits to read the value back exactly (9 for FP32, 17 for FP64).
    fmt = "%.17g" if rows.dtype.itemsize > 4 else "%.9g"
    # Stable sort on the negated scores: ties keep the lower index first.
    order = np.argsort(-rows.astype(np.float64), axis=1, kind="stable")[:, :k]
    out = np.empty(order.shape, dtype=np.object_)
    for r in range(order.shape[0]):
        for c in range(k):
            index = int(order[r, c])
            value = rows[r, index]
            text = fmt % value if floating else str(int(value))
            label = labels[index] if labels is not None and index < len(labels) else None
            out[r, c] = f"{text}:{index}:{label}" if label is not None else f"{text}:{index}"
    shape = out.shape if batched else (k,)
    return Tensor(tensor.name, "BYTES", out.reshape(shape))

"""A dynamic batcher for one model version.

Requests are rows of a batch. When the model is idle a request is dispatched
at the next loop turn (so requests decoded in the same turn share a batch and a
lone request waits for nothing); while a batch runs, newcomers accumulate and
form the next batch. Optionally, after a run the batcher waits up to
``max_queue_delay_us`` (bounded from the oldest request's arrival) for a fuller
batch. A failed run fails exactly the requests of that batch.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..errors import DeadlineExceeded, InferenceFailed, InvalidInput, Overloaded

__all__ = ["BatchRecord", "Batcher"]

# A model whose last run took at least this long holds a partial batch while requests
# keep arriving: one more loop turn (a non-blocking poll) per hold, at most
# HOLD_TURNS in a row, and only while the previous turn added requests. A run costs
# a fixed part (its weights come back into the caches) that a fuller batch shares.
HOLD_RUN_NS = 250_000
HOLD_TURNS = 3

RunFn = Callable[[dict[str, np.ndarray]], Sequence[np.ndarray]]


@dataclass(slots=True)
class BatchRecord:
    """What one executed batch looked like (for statistics and metrics)."""

    rows: int
    requests: int
    queue_ns: list[int]
    compute_ns: int  # the run itself
    ok: bool
    # Per request: from ``started_ns`` (given to infer, else arrival) to the batch's end.
    request_ns: list[int] = field(default_factory=list)
    input_ns: int = 0  # building the feeds (concatenating the requests' rows)
    output_ns: int = 0  # handing each request its rows of the outputs


@dataclass(slots=True, eq=False)
class _Pending:
    inputs: dict[str, np.ndarray]
    rows: int
    future: asyncio.Future
    arrival: int
    deadline: int
    signature: tuple = field(default=())
    started: int = 0


class Batcher:
    """Batch concurrent requests of one model version into single runs."""

    def __init__(
        self,
        run: RunFn,
        *,
        name: str,
        max_batch_size: int,
        max_queue_delay_us: int = 0,
        max_queue_size: int = 2048,
        execution: Literal["thread", "inline"] = "thread",
        executor: Executor | None = None,
        on_batch: Callable[[BatchRecord], None] | None = None,
    ) -> None:
        self.name = name
        self._run = run
        self._batching = max_batch_size > 0
        self._max_rows = max(1, max_batch_size)
        self._delay_ns = max_queue_delay_us * 1000
        self._max_queue = max_queue_size
        self._inline = execution == "inline"
        self._own_executor = executor is None and not self._inline
        self._executor = executor
        self._on_batch = on_batch
        self._queue: deque[_Pending] = deque()
        self._running = False
        self._scheduled = False
        self._closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_run_ns = 0
        self._seen = 0  # queue length at the last hold
        self._holds = 0

    @property
    def queue_depth(self) -> int:
        """Return how many requests wait for a batch."""
        return len(self._queue)

    @property
    def idle(self) -> bool:
        """Return True when nothing is queued or running."""
        return not self._queue and not self._running

    async def infer(
        self, inputs: dict[str, np.ndarray], *, timeout_us: int = 0, started_ns: int = 0
    ) -> list[np.ndarray]:
        """Run ``inputs`` (batch dimension first) as part of a batch and return its outputs.

        ``started_ns`` (``time.monotonic_ns()``) is when the caller began handling the
        request; the batch record reports each request's time from then.
        """
        rows = 1
        signature: tuple = ()
        if self._batching:
            # Requests batch together when every input has the same trailing shape and dtype.
            signature = tuple([(k, v.shape[1:], v.dtype) for k, v in inputs.items()])
            first = next(iter(inputs.values()))
            rows = first.shape[0] if first.ndim else 0
            if rows > self._max_rows:
                raise InvalidInput(
                    f"batch of {rows} rows exceeds max_batch_size {self._max_rows} "
                    f"of model '{self.name}'"
                )
        if len(self._queue) >= self._max_queue:
            raise Overloaded(
                f"model '{self.name}' has {len(self._queue)} queued requests "
                f"(max_queue_size {self._max_queue}); retry later"
            )
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        now = time.monotonic_ns()
        item = _Pending(
            inputs,
            rows,
            loop.create_future(),
            now,
            now + timeout_us * 1000 if timeout_us > 0 else 0,
            signature,
            started_ns or now,
        )
        self._queue.append(item)
        if item.deadline:
            loop.call_at(loop.time() + timeout_us / 1e6, self._expire, item)
        if not self._running and not self._scheduled and self._timer is None:
            self._scheduled = True
            loop.call_soon(self._dispatch)
        elif self._timer is not None and self._queued_rows() >= self._max_rows:
            self._timer.cancel()
            self._timer = None
            loop.call_soon(self._dispatch)
        return await item.future

    def close(self) -> None:
        """Release the executor once idle; requests that already hold this version still run."""
        self._closed = True
        if self.idle:
            self._shutdown_executor()

    # --- internals ---------------------------------------------------------------------

    def _shutdown_executor(self) -> None:
        if self._own_executor and self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    def _queued_rows(self) -> int:
        return sum(p.rows for p in self._queue)

    def _expire(self, item: _Pending) -> None:
        if not item.future.done() and item in self._queue:
            self._queue.remove(item)
            item.future.set_exception(
                DeadlineExceeded(f"model '{self.name}': request timed out after waiting in queue")
            )

    def _take_batch(self) -> list[_Pending]:
        now = time.monotonic_ns()
        batch: list[_Pending] = []
        rest: deque[_Pending] = deque()
        rows = 0
        signature = None
        queue = self._queue
        while queue:
            item = queue.popleft()
            if item.future.done():  # cancelled by the client or expired
                continue
            if item.deadline and item.deadline <= now:
                item.future.set_exception(
                    DeadlineExceeded(f"model '{self.name}': request timed out before it could run")
                )
                continue
            if not self._batching:
                batch.append(item)
                break
            if signature is None:
                signature = item.signature
            if item.signature != signature or rows + item.rows > self._max_rows:
                rest.append(item)
                if rows + item.rows > self._max_rows and item.signature == signature:
                    break
                continue
            batch.append(item)
            rows += item.rows
            if rows >= self._max_rows:
                break
        if rest:
            rest.extend(queue)
            self._queue = rest
        return batch

    def _dispatch(self, hold: bool = False) -> None:
        # ``hold``: called right after a run, when max_queue_delay_us may wait for a fuller
        # batch; an idle model never waits (a lone request would pay the whole delay).
        self._scheduled = False
        self._timer = None
        if self._running or not self._queue:
            return
        if hold and self._delay_ns and self._batching:
            oldest = self._queue[0].arrival
            wait_ns = oldest + self._delay_ns - time.monotonic_ns()
            if wait_ns > 0 and self._queued_rows() < self._max_rows:
                assert self._loop is not None
                self._timer = self._loop.call_later(wait_ns / 1e9, self._dispatch, True)
                return
        if (
            self._batching
            and self._last_run_ns >= HOLD_RUN_NS
            and self._holds < HOLD_TURNS
            and len(self._queue) != self._seen
            and self._queued_rows() < self._max_rows
        ):
            # Requests arrived since the last look: give the loop one more turn to read
            # the ones behind them (their handlers run after this callback).
            self._seen = len(self._queue)
            self._holds += 1
            self._scheduled = True
            assert self._loop is not None
            self._loop.call_soon(self._dispatch, hold)
            return
        self._holds = 0
        self._seen = 0
        batch = self._take_batch()
        if not batch:
            self._after_batch()
            return
        self._running = True
        # Timed per batch, never per request: three clock reads for the whole batch.
        start = time.monotonic_ns()
        if len(batch) == 1:
            feeds = batch[0].inputs
        else:
            feeds = {k: np.concatenate([p.inputs[k] for p in batch]) for k in batch[0].inputs}
        ran = time.monotonic_ns()
        if self._inline:
            try:
                outputs = self._run(feeds)
            except Exception as exc:
                self._finish(batch, start, ran, None, exc)
            else:
                self._finish(batch, start, ran, outputs, None)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"ort-{self.name}")
        assert self._loop is not None
        fut = self._loop.run_in_executor(self._executor, self._run, feeds)
        fut.add_done_callback(lambda f: self._finish_future(batch, start, ran, f))

    def _finish_future(
        self, batch: list[_Pending], start: int, ran: int, fut: asyncio.Future
    ) -> None:
        exc = fut.exception()
        self._finish(batch, start, ran, None if exc else fut.result(), exc)

    def _finish(
        self,
        batch: list[_Pending],
        start: int,
        ran: int,
        outputs: Sequence[np.ndarray] | None,
        exc: BaseException | None,
    ) -> None:
        end = time.monotonic_ns()
        self._running = False
        self._last_run_ns = end - ran
        total = sum(p.rows for p in batch)
        if exc is not None or outputs is None:
            error = InferenceFailed(f"model '{self.name}': inference failed: {exc}")
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(error)
        elif len(batch) == 1:
            if not batch[0].future.done():
                batch[0].future.set_result(list(outputs))
        else:
            offset = 0
            for p in batch:
                stop = offset + p.rows
                if not p.future.done():
                    p.future.set_result(
                        [o[offset:stop] if o.ndim and o.shape[0] == total else o for o in outputs]
                    )
                offset = stop
        if self._on_batch is not None:
            done = time.monotonic_ns()
            self._on_batch(
                BatchRecord(
                    total,
                    len(batch),
                    [start - p.arrival for p in batch],
                    end - ran,
                    exc is None,
                    [done - p.started for p in batch],
                    ran - start,
                    done - end,
                )
            )
        self._after_batch()

    def _after_batch(self) -> None:
        if self._queue:
            if not self._scheduled and self._loop is not None:
                # Next loop turn: requests read meanwhile join this batch.
                self._scheduled = True
                self._loop.call_soon(self._dispatch, True)
        elif self._closed:
            self._shutdown_executor()

"""The dynamic batcher: dispatch, accumulation, splitting, limits, timeouts, failures."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from openclaw_runtime.batching import Batcher, BatchRecord
from openclaw_runtime.errors import DeadlineExceeded, InferenceFailed, InvalidInput, Overloaded


class Model:
    """A fake model: doubles its input; can block until released and fail on a marker."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()

    def __call__(self, feeds):
        x = feeds["x"]
        self.batches.append(x.shape[0])
        self.started.set()
        self.gate.wait(10)
        if (x < 0).any():
            raise RuntimeError("negative input")
        return [x * 2, np.float32(7.0)]


def make(model, records=None, **kw) -> Batcher:
    kw.setdefault("max_batch_size", 32)
    return Batcher(
        model, name="m", on_batch=(records.append if records is not None else None), **kw
    )


def rows(value: float, n: int = 1) -> dict[str, np.ndarray]:
    return {"x": np.full((n, 2), value, np.float32)}


async def test_a_lone_request_runs_at_once_as_a_batch_of_one():
    model = Model()
    records: list[BatchRecord] = []
    out = await make(model, records).infer(rows(3))
    np.testing.assert_array_equal(out[0], np.full((1, 2), 6, np.float32))
    assert model.batches == [1]
    assert records[0].rows == 1 and records[0].requests == 1 and records[0].ok


async def test_concurrent_requests_are_batched_and_each_gets_its_own_rows():
    model = Model()
    batcher = make(model)
    outs = await asyncio.gather(*(batcher.infer(rows(i, n=1 + i % 3)) for i in range(20)))
    for i, out in enumerate(outs):
        assert out[0].shape == (1 + i % 3, 2)
        assert (out[0] == 2 * i).all(), f"request {i} got another request's rows"
        assert out[1] == 7.0  # an output without batch dimension goes to everyone
    assert sum(model.batches) == sum(1 + i % 3 for i in range(20))
    assert len(model.batches) < 20


async def test_requests_accumulate_while_a_batch_runs_up_to_max_batch_size():
    model = Model()
    model.gate.clear()
    batcher = make(model, max_batch_size=4)
    first = asyncio.create_task(batcher.infer(rows(1)))
    await asyncio.to_thread(model.started.wait, 5)
    rest = [asyncio.create_task(batcher.infer(rows(i))) for i in range(6)]
    while batcher.queue_depth < 6:  # all six queued behind the running batch
        await asyncio.sleep(0)
    model.gate.set()
    await asyncio.gather(first, *rest)
    assert model.batches == [1, 4, 2]


async def test_request_larger_than_max_batch_size_is_invalid():
    with pytest.raises(InvalidInput, match="exceeds max_batch_size 4"):
        await make(Model(), max_batch_size=4).infer(rows(1, n=5))


async def test_full_queue_is_overloaded_with_retry_after():
    model = Model()
    model.gate.clear()
    batcher = make(model, max_queue_size=2)
    running = asyncio.create_task(batcher.infer(rows(1)))
    await asyncio.to_thread(model.started.wait, 5)
    queued = [asyncio.create_task(batcher.infer(rows(1))) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(Overloaded) as err:
        await batcher.infer(rows(1))
    assert err.value.status == 503 and err.value.retry_after
    model.gate.set()
    await asyncio.gather(running, *queued)


async def test_request_that_cannot_run_in_time_is_rejected_not_run_late():
    model = Model()
    model.gate.clear()
    batcher = make(model)
    running = asyncio.create_task(batcher.infer(rows(1)))
    await asyncio.to_thread(model.started.wait, 5)
    late = asyncio.create_task(batcher.infer(rows(5), timeout_us=1000))
    with pytest.raises(DeadlineExceeded):
        await late
    model.gate.set()
    await running
    assert model.batches == [1], "the timed-out request must not run"


async def test_a_failed_batch_fails_exactly_its_requests():
    model = Model()
    model.gate.clear()
    batcher = make(model, max_batch_size=2)
    first = asyncio.create_task(batcher.infer(rows(1)))
    await asyncio.to_thread(model.started.wait, 5)
    # Next batch: [bad, good1]; the one after: [good2].
    bad = asyncio.create_task(batcher.infer(rows(-1)))
    good1 = asyncio.create_task(batcher.infer(rows(2)))
    good2 = asyncio.create_task(batcher.infer(rows(3)))
    await asyncio.sleep(0)
    model.gate.set()
    results = await asyncio.gather(first, bad, good1, good2, return_exceptions=True)
    assert not isinstance(results[0], Exception)
    assert isinstance(results[1], InferenceFailed) and isinstance(results[2], InferenceFailed)
    assert (results[3][0] == 6).all()


async def test_requests_with_different_row_shapes_are_not_mixed():
    model = Model()
    batcher = make(model)
    a, b = await asyncio.gather(
        batcher.infer({"x": np.ones((1, 2), np.float32)}),
        batcher.infer({"x": np.ones((1, 3), np.float32)}),
    )
    assert a[0].shape == (1, 2) and b[0].shape == (1, 3)
    assert model.batches == [1, 1]


@pytest.mark.parametrize("execution", ["thread", "inline"])
async def test_both_execution_modes_give_the_same_results(execution):
    batcher = make(Model(), execution=execution)
    outs = await asyncio.gather(*(batcher.infer(rows(i)) for i in range(10)))
    assert [int(o[0][0, 0]) for o in outs] == [2 * i for i in range(10)]


async def test_max_queue_delay_waits_for_a_fuller_batch_after_a_run():
    model = Model()
    model.gate.clear()
    # A delay far longer than the test: only a full batch can end the wait.
    batcher = make(model, max_batch_size=2, max_queue_delay_us=600_000_000)
    first = asyncio.create_task(batcher.infer(rows(1)))
    await asyncio.to_thread(model.started.wait, 5)
    second = asyncio.create_task(batcher.infer(rows(2)))
    while batcher.queue_depth < 1:
        await asyncio.sleep(0)
    model.gate.set()
    await first
    await asyncio.sleep(0)  # the batcher's next turn: it holds the partial batch
    assert not second.done() and batcher.queue_depth == 1
    third = asyncio.create_task(batcher.infer(rows(3)))
    await asyncio.gather(second, third)
    assert model.batches == [1, 2]


async def test_max_queue_delay_is_bounded_from_the_arrival():
    model = Model()
    model.gate.clear()
    batcher = make(model, max_batch_size=8, max_queue_delay_us=20_000)
    first = asyncio.create_task(batcher.infer(rows(1)))
    await asyncio.to_thread(model.started.wait, 5)
    second = asyncio.create_task(batcher.infer(rows(2)))
    while batcher.queue_depth < 1:
        await asyncio.sleep(0)
    model.gate.set()
    # No third request: the partial batch runs once its delay has passed.
    await asyncio.gather(first, second)
    assert model.batches == [1, 1]


async def test_the_batch_record_times_building_running_and_splitting_apart():
    class Slow(Model):
        def __call__(self, feeds):
            time.sleep(0.02)
            return super().__call__(feeds)

    model = Slow()
    model.gate.clear()
    records: list[BatchRecord] = []
    batcher = make(model, records, max_batch_size=512)
    first = asyncio.create_task(batcher.infer(rows(1)))
    await asyncio.to_thread(model.started.wait, 5)
    rest = [asyncio.create_task(batcher.infer(rows(i, n=50))) for i in range(8)]
    while batcher.queue_depth < 8:
        await asyncio.sleep(0)
    model.gate.set()
    await asyncio.gather(first, *rest)
    full = next(r for r in records if r.requests == 8)
    assert full.compute_ns >= 20_000_000  # the run alone: the model sleeps 20 ms
    # Concatenating 8 requests and handing out their rows take time, far less than the run.
    assert 0 < full.input_ns < full.compute_ns
    assert 0 < full.output_ns < full.compute_ns


class Slow:
    """A fake model whose runs take ``seconds`` (a compute-bound model); records batch sizes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.batches: list[int] = []

    def __call__(self, feeds):
        x = feeds["x"]
        self.batches.append(x.shape[0])
        time.sleep(self.seconds)
        return [x * 2, np.float32(7.0)]


async def _arrivals(batcher: Batcher, turns: int) -> list:
    """One request now and one more in each of the next ``turns`` loop turns."""
    loop = asyncio.get_running_loop()
    tasks = [asyncio.ensure_future(batcher.infer(rows(0)))]

    def arrive(left: int) -> None:
        tasks.append(asyncio.ensure_future(batcher.infer(rows(len(tasks)))))
        if left > 1:
            loop.call_soon(arrive, left - 1)

    loop.call_soon(arrive, turns)
    while len(tasks) < turns + 1:
        await asyncio.sleep(0)
    return await asyncio.gather(*tasks)


async def test_a_compute_bound_model_holds_its_batch_while_requests_keep_arriving():
    model = Slow(0.002)  # 2 ms runs: over HOLD_RUN_NS
    batcher = make(model, execution="inline")
    await batcher.infer(rows(1))  # the first run measures the model
    outs = await _arrivals(batcher, 2)  # three requests over three loop turns
    assert [int(o[0][0, 0]) for o in outs] == [0, 2, 4]
    assert model.batches == [1, 3]


async def test_a_fast_model_never_holds(monkeypatch):
    # "Fast" is relative to HOLD_RUN_NS: raised far over any run of the test, so that a
    # machine slowed down by other work cannot make a short run look long.
    monkeypatch.setattr("openclaw_runtime.batching.batcher.HOLD_RUN_NS", 10**12)
    model = Slow(0.0)
    batcher = make(model, execution="inline")
    await batcher.infer(rows(1))
    await _arrivals(batcher, 2)
    assert model.batches[0] == 1 and model.batches[1] < 3

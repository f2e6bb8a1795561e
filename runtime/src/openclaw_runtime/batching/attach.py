"""Give a loaded model version its batcher, recording every batch it runs."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ..metrics import observe_many
from .batcher import Batcher, BatchRecord

if TYPE_CHECKING:
    from ..config import BatchingSettings
    from ..metrics import ModelStats
    from ..models.session import LoadedModel

__all__ = ["attach_batcher"]


def attach_batcher(
    loaded: LoadedModel, defaults: BatchingSettings, stats: ModelStats, children: tuple | None
) -> None:
    """Set ``loaded.batcher``: the server's batching settings under the model's overrides.

    Each executed batch is added to ``stats`` and, when metrics are on, to the
    version's Prometheus series ``children`` (``Metrics.children``).
    """
    over = loaded.config.batching
    max_batch = loaded.config.max_batch_size  # resolved by load_version: never None

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
    loaded.batcher = Batcher(
        functools.partial(loaded.session.run, loaded.output_names),
        name=f"{loaded.name}:{loaded.version}",
        max_batch_size=max_batch,
        max_queue_delay_us=(
            defaults.max_queue_delay_us
            if over.max_queue_delay_us is None
            else over.max_queue_delay_us
        ),
        max_queue_size=(
            defaults.max_queue_size if over.max_queue_size is None else over.max_queue_size
        ),
        execution=defaults.execution,
        on_batch=on_batch,
    )

"""A worker's heartbeat: a task on its event loop that proves the loop still turns.

Every ``interval`` it measures how late it woke (the loop's lag), stamps the
supervisor's shared heartbeat value and runs ``on_tick`` (sampled gauges).
The worker is live while the last tick is recent and was not late by more than
``bound`` seconds (``server.worker_hang_seconds``, the same bound after which
the supervisor kills a worker whose heartbeat stopped).

The stamp is ``time.monotonic()``: on Linux it reads CLOCK_MONOTONIC, one clock
for the whole system, so the supervisor compares it with its own reading in
another process, and a wall-clock jump (NTP, an operator's ``date``) moves
neither.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Heartbeat"]

log = logging.getLogger("openclaw.heartbeat")


class Heartbeat:
    """Measure the event loop's lag and stamp a shared heartbeat value while it turns."""

    def __init__(
        self,
        bound: float,
        *,
        interval: float | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self.bound = bound
        # Several ticks per bound, at most one a second (each costs a few microseconds).
        self.interval = min(1.0, bound / 4) if interval is None else interval
        self.on_tick = on_tick
        self.last_tick = 0.0
        self.lag = 0.0
        self._beat: Any = None
        self._task: asyncio.Task | None = None

    @property
    def live(self) -> bool:
        """Return True while the loop ticked within ``bound`` and its last tick was not late."""
        task = self._task
        if task is None or task.done():
            return False
        return time.monotonic() - self.last_tick <= self.bound and self.lag <= self.bound

    def start(self, beat: Any = None) -> None:
        """Start ticking on the running loop; ``beat`` (``.value``) is the supervisor's stamp."""
        if beat is not None:
            self._beat = beat
        if self._task is not None and not self._task.done():
            return
        self.lag = 0.0
        self._stamp(time.monotonic())
        self._task = asyncio.get_running_loop().create_task(self._run(), name="heartbeat")

    def stop(self) -> None:
        """Stop ticking (the worker is no longer live from now on)."""
        if self._task is not None:
            self._task.cancel()

    def _stamp(self, now: float) -> None:
        self.last_tick = now
        if self._beat is not None:
            self._beat.value = now

    async def _run(self) -> None:
        while True:
            due = time.monotonic() + self.interval
            await asyncio.sleep(self.interval)
            now = time.monotonic()
            self.lag = max(0.0, now - due)
            self._stamp(now)
            if self.lag > self.bound:
                log.warning("event loop stalled", extra={"stall_seconds": round(self.lag, 3)})
            if self.on_tick is not None:
                try:
                    self.on_tick()
                except Exception:
                    log.exception("heartbeat sampler failed")

"""The supervisor: start one worker per CPU of the quota, restart dead or hung ones, drain.

Workers are spawned (fresh interpreters, so no onnxruntime thread state is
forked) and each binds the port with SO_REUSEPORT; the kernel spreads
connections between them. The supervisor itself imports neither aiohttp nor
onnxruntime, to stay small.

Each worker stamps a shared heartbeat value with ``time.monotonic()`` (see
``openclaw_runtime.heartbeat``) and the supervisor compares it with its own
``time.monotonic()``: on Linux that is CLOCK_MONOTONIC, one clock for every
process of the host, so the two readings are comparable, and a jump of the
wall clock does not make every worker look hung at once.
"""

from __future__ import annotations

import errno
import logging
import multiprocessing as mp
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from .auth import preflight
from .config import Settings
from .errors import ConfigError
from .host import bind_socket, cpu_quota, port_holder

__all__ = ["serve"]

log = logging.getLogger("openclaw.supervisor")


def _worker_entry(settings: Settings, port: int, workers: int, beat) -> None:
    from .http.worker import run_worker

    run_worker(settings, port, workers, beat)


class _Slot:
    def __init__(self, ctx, settings: Settings, port: int, workers: int, index: int) -> None:
        self.ctx, self.settings, self.port, self.workers, self.index = (
            ctx,
            settings,
            port,
            workers,
            index,
        )
        self.beat = ctx.Value("d", time.monotonic(), lock=False)
        self.process = None
        self.failures = 0
        self.next_start = 0.0

    def start(self) -> None:
        self.beat.value = time.monotonic()
        self.process = self.ctx.Process(
            target=_worker_entry,
            args=(self.settings, self.port, self.workers, self.beat),
            name=f"openclaw-worker-{self.index}",
        )
        self.process.start()
        log.info("worker started", extra={"worker": self.index, "pid": self.process.pid})


def serve(settings: Settings) -> int:
    """Run the server until SIGTERM/SIGINT; return the exit status."""
    server = settings.server
    workers = server.workers or cpu_quota()
    preflight(settings.auth)  # an unreadable key store stops the server before any worker
    try:
        reservation = bind_socket(server.host, server.port, server.backlog, listen=False)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"server.port: port {server.port} on {server.host} is already in use by "
                f"{port_holder(server.port)}; stop it or choose another port"
            ) from exc
        raise ConfigError(
            f"server.host/port: cannot bind {server.host}:{server.port}: {exc}"
        ) from exc
    port = reservation.getsockname()[1]
    metrics_dir = _prepare_metrics_dir(settings)
    # Shared by the workers: repository load/unload actions (models.control).
    control_dir = tempfile.mkdtemp(prefix="openclaw-control-")
    os.environ["OPENCLAW_CONTROL_DIR"] = control_dir
    ctx = mp.get_context("spawn")
    slots = [_Slot(ctx, settings, port, workers, i) for i in range(workers)]
    stopping = False

    def on_signal(_signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def on_hangup(_signum, _frame) -> None:  # reload the key store in every worker
        for slot in slots:
            if slot.process is not None and slot.process.is_alive():
                os.kill(slot.process.pid, signal.SIGHUP)

    signal.signal(signal.SIGHUP, on_hangup)
    log.info(
        "starting",
        extra={"workers": workers, "port": port, "repository": settings.models.repository},
    )
    for slot in slots:
        slot.start()
    try:
        while not stopping:
            time.sleep(0.2)
            for slot in slots:
                _watch(slot, settings)
    finally:
        _stop(slots, settings)
        reservation.close()
        if metrics_dir and not settings.metrics.multiproc_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        shutil.rmtree(control_dir, ignore_errors=True)
    log.info("stopped")
    return 0


def _watch(slot: _Slot, settings: Settings) -> None:
    """Kill a worker whose heartbeat is older than worker_hang_seconds; restart dead ones."""
    now = time.monotonic()  # the workers' clock (CLOCK_MONOTONIC), not the wall clock
    proc = slot.process
    if proc is not None and proc.is_alive():
        if now - slot.beat.value > settings.server.worker_hang_seconds:
            log.error("worker hung; killing it", extra={"worker": slot.index, "pid": proc.pid})
            proc.kill()
            proc.join(5)
        else:
            if now - slot.next_start > 60:
                slot.failures = 0
            return
    if proc is not None:
        log.error(
            "worker exited; restarting",
            extra={"worker": slot.index, "pid": proc.pid, "exitcode": proc.exitcode},
        )
        _mark_dead(proc.pid)
        slot.process = None
        slot.failures += 1
        slot.next_start = now + min(30.0, 0.5 * 2 ** (slot.failures - 1))
    if now >= slot.next_start:
        slot.start()


def _stop(slots: list[_Slot], settings: Settings) -> None:
    for slot in slots:
        if slot.process is not None and slot.process.is_alive():
            slot.process.terminate()
    deadline = (
        time.monotonic()
        + settings.server.shutdown_grace_seconds
        + settings.server.shutdown_delay_seconds
        + 10
    )
    for slot in slots:
        if slot.process is None:
            continue
        slot.process.join(max(0.1, deadline - time.monotonic()))
        if slot.process.is_alive():
            log.error("worker did not stop in time; killing it", extra={"pid": slot.process.pid})
            slot.process.kill()
            slot.process.join(5)


def _prepare_metrics_dir(settings: Settings) -> str | None:
    if not settings.metrics.enabled:
        return None
    path = settings.metrics.multiproc_dir or tempfile.mkdtemp(prefix="openclaw-metrics-")
    os.makedirs(path, exist_ok=True)
    for stale in Path(path).glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def _mark_dead(pid: int | None) -> None:
    if pid is None or not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)

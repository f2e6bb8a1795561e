"""One worker process: an aiohttp server on a SO_REUSEPORT socket shared with its siblings."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from ..cache import ResultCache
from ..config import Settings
from ..host import bind_socket
from ..logs import configure_logging
from ..service import InferenceService
from .app import build_app, install
from .security import AuthAdapter

__all__ = ["run_worker"]

log = logging.getLogger("openclaw.worker")

# Allocations before a young collection, then young (resp. middle) collections
# before the next older one; see _tune_gc.
GC_THRESHOLDS = (10_000, 20, 100)


async def _serve(settings: Settings, port: int, workers: int, beat: Any) -> None:
    from ..metrics import Metrics

    metrics = Metrics() if settings.metrics.enabled else None
    auth = AuthAdapter(settings)
    cache = ResultCache.from_settings(settings.cache)  # None when no tier is on
    service = InferenceService(settings, metrics=metrics, cache=cache, workers=workers)
    # Live (and stamping the supervisor's heartbeat) from now on; ready only after start().
    service.heartbeat.start(beat)
    app = build_app(settings, service)
    app.cleanup_ctx.append(auth.lifecycle)
    if cache is not None:
        app.cleanup_ctx.append(_closing(cache))
    grace = settings.server.shutdown_grace_seconds
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=grace)
    await runner.setup()
    install(runner, settings, service, guard=auth.guard)
    sock = bind_socket(settings.server.host, port, settings.server.backlog)
    site = web.SockSite(runner, sock, shutdown_timeout=grace)
    await site.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Ready only after the start-up models are loaded and warmed up.
    await service.start()
    _tune_gc()
    log.info("worker ready", extra={"port": port, "pid": os.getpid()})
    await stop.wait()
    service.begin_drain()
    log.info("draining", extra={"grace_seconds": grace})
    await asyncio.sleep(settings.server.shutdown_delay_seconds)
    await runner.cleanup()
    await service.close()  # stops the heartbeat too
    log.info("worker stopped")


def _closing(cache: ResultCache) -> Callable[[web.Application], AsyncIterator[None]]:
    """Return a cleanup context that releases the cache's Redis pool when the app stops."""

    async def close_cache(app: web.Application) -> AsyncIterator[None]:
        yield
        await cache.close()

    return close_cache


def _tune_gc() -> None:
    """Keep the cyclic garbage collector off the request path.

    The objects that exist once the models are loaded (modules, sessions, the
    app) live as long as the process: ``gc.freeze`` takes them out of every
    later collection. Requests allocate a few hundred short-lived objects each,
    so collecting the youngest generation every 700 allocations (Python's
    default) ran it every few requests. Measured in process on the demo model:
    44.4 -> 39.6 us of CPU per request.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_worker(settings: Settings, port: int, workers: int = 1, beat: Any = None) -> None:
    """Run one worker until SIGTERM, then drain and return (exit status 0)."""
    configure_logging(settings.logging.level, settings.logging.format)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the loop's key store reload handler
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(settings, port, workers, beat))
    else:
        uvloop.run(_serve(settings, port, workers, beat))

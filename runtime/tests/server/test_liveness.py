"""/v2/health/live: 503 after the event loop stalled or the heartbeat stopped (in-process server).

The server runs on this test's own event loop (build_app + install on a loopback
port, as a worker does), so the test can block that loop or stop the heartbeat.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web

from openclaw_runtime.config import load_settings
from openclaw_runtime.http import build_app, install
from openclaw_runtime.service import InferenceService

HANG_SECONDS = 1.0


@pytest.fixture
async def live_server(tmp_path):
    """Yield (service, base URL) of a server whose worker_hang_seconds is 1."""
    (tmp_path / "repo").mkdir()
    settings = load_settings(
        overrides={
            "server.worker_hang_seconds": HANG_SECONDS,
            "models.repository": str(tmp_path / "repo"),
            "models.poll_interval_seconds": 0,
            "metrics.enabled": False,
        }
    )
    service = InferenceService(settings)
    runner = web.AppRunner(build_app(settings, service), access_log=None)
    await runner.setup()
    install(runner, settings, service)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await service.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
            yield service, session
    finally:
        await runner.cleanup()
        await service.close()


async def _live(session: aiohttp.ClientSession) -> tuple[int, dict]:
    async with session.get("/v2/health/live") as resp:
        return resp.status, await resp.json()


async def test_live_is_503_right_after_the_loop_stalled_and_200_once_it_turns_again(live_server):
    service, session = live_server
    assert await _live(session) == (200, {"live": True})
    time.sleep(HANG_SECONDS * 1.5)  # blocks the server's loop (it is this test's loop)
    assert await _live(session) == (503, {"live": False})
    deadline = time.monotonic() + 5
    while await _live(session) != (200, {"live": True}):
        assert time.monotonic() < deadline, "live never recovered after the stall"
        await asyncio.sleep(0.05)
    assert service.heartbeat.lag <= HANG_SECONDS


async def test_live_is_503_once_the_heartbeat_stopped(live_server):
    service, session = live_server
    assert await _live(session) == (200, {"live": True})
    service.heartbeat.stop()
    assert await _live(session) == (503, {"live": False})


async def test_ready_and_live_are_independent_while_draining(live_server):
    service, session = live_server
    service.begin_drain()
    async with session.get("/v2/health/ready") as resp:
        assert resp.status == 503
    assert await _live(session) == (200, {"live": True})

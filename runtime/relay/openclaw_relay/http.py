"""The aiohttp app: POST /alert/{channel}, GET /metrics, GET /health, and with a
``status`` section GET /status (the read-only status page) and GET /status/data.
With ``status.listen`` the same app also listens there, and on that port it
serves the page and its data only (``read_only_port``).

State lives in a Relay object whose bound methods are the handlers (Debian
12's aiohttp 3.8 has no web.AppKey); the client session is opened and closed
in the app's cleanup context.
"""

from __future__ import annotations

import json
import logging

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from .config import RelaySettings
from .deliver import Deliverer
from .errors import PayloadError, RelayError, UnknownChannel
from .metrics import RelayMetrics
from .render import render
from .robots import body_for
from .status import StatusPage

__all__ = ["STATUS_PATHS", "Relay", "build_app"]

# What the read-only status listener serves.
STATUS_PATHS = frozenset({"/status", "/status/data"})

log = logging.getLogger("openclaw_relay.http")


def _error(exc: RelayError) -> web.Response:
    return web.json_response({"error": str(exc), "code": exc.code}, status=int(exc.status))


class Relay:
    """Handlers and the resources they share."""

    def __init__(self, settings: RelaySettings, **deliver_options) -> None:
        self.settings = settings
        self.metrics = RelayMetrics()
        self.deliverer: Deliverer | None = None
        self._deliver_options = deliver_options
        self.status = StatusPage(settings.status) if settings.status else None

    async def session_ctx(self, _app: web.Application):
        """Open the client session for the app's lifetime."""
        async with aiohttp.ClientSession() as session:
            self.deliverer = Deliverer(
                session, self.settings, self.metrics, **self._deliver_options
            )
            if self.status is not None:
                self.status.session = session
            yield

    async def alert(self, request: web.Request) -> web.Response:
        """Relay one Alertmanager notification to the channel named in the path."""
        name = request.match_info["channel"]
        try:
            channel = self.settings.channel(name)
            if channel is None:
                known = ", ".join(c.name for c in self.settings.channels) or "none"
                raise UnknownChannel(f"unknown channel {name!r}; configured: {known}")
            try:
                doc = json.loads(await request.read())
            except ValueError:
                raise PayloadError("the body is not JSON") from None
            message = render(doc, self.settings.language)
            await self.deliverer.send(channel, body_for(channel, message), doc["status"])
        except RelayError as exc:
            log.warning("notification not relayed", extra={"channel": name, "error": str(exc)})
            return _error(exc)
        log.info("notification relayed", extra={"channel": name, "title": message.title})
        return web.json_response({"status": "delivered", "channel": name})

    async def metrics_handler(self, _request: web.Request) -> web.Response:
        """The relay's metrics in the Prometheus text format."""
        return web.Response(
            body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def health(self, _request: web.Request) -> web.Response:
        """Liveness, with the configured channel names (never their URLs)."""
        return web.json_response(
            {"status": "ok", "channels": [c.name for c in self.settings.channels]}
        )


def read_only_port(port: int):
    """Middleware: requests that arrive on PORT get the status page and its data, nothing else."""

    @web.middleware
    async def status_only(request: web.Request, handler):
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        if sockname and sockname[1] == port and request.path not in STATUS_PATHS:
            raise web.HTTPNotFound(
                text="this listener serves only the read-only status page: GET /status\n"
            )
        return await handler(request)

    return status_only


def build_app(settings: RelaySettings, **deliver_options) -> web.Application:
    """Return the relay's aiohttp application."""
    relay = Relay(settings, **deliver_options)
    middlewares = []
    if settings.status is not None and settings.status.listen is not None:
        middlewares.append(read_only_port(settings.status.listen[1]))
    app = web.Application(client_max_size=1024 * 1024, middlewares=middlewares)
    app.cleanup_ctx.append(relay.session_ctx)
    app.router.add_post("/alert/{channel}", relay.alert)
    app.router.add_get("/metrics", relay.metrics_handler)
    app.router.add_get("/health", relay.health)
    if relay.status is not None:
        app.router.add_get("/status", relay.status.page)
        app.router.add_get("/status/data", relay.status.data)
    return app

"""The HTTP adapter of the auth core: the auth guard and the key store's lifecycle.

The worker builds an :class:`AuthAdapter` from the settings and hands ``guard``
to :func:`~.app.install` (called inside the server's request context, so
401/403/429 render as ``{"error": ...}`` like every other error) and
``lifecycle`` to ``app.cleanup_ctx`` (key store watcher, SIGHUP reload). The
result cache is not here: the worker opens it (``ResultCache.from_settings``)
and closes it itself. The supervisor calls :func:`openclaw_runtime.auth.preflight`
once before starting workers, so that an unreadable key store stops the server at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from ..auth import Authenticator, Endpoint, client_address
from ..config import Settings
from .app import Guard

__all__ = ["AuthAdapter"]

log = logging.getLogger("openclaw.security")

_DEPLOY_EVENTS = {"load": "model.loaded", "unload": "model.unloaded"}


class AuthAdapter:
    """The authenticator (None when auth is off), as an aiohttp guard and cleanup context."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.auth = Authenticator.from_settings(settings.auth) if settings.auth.enabled else None

    @property
    def guard(self) -> Guard | None:
        """Return the auth check for :func:`~.app.install` (None when auth is off)."""
        return None if self.auth is None else _auth_guard(self.auth)

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """Run the key store watcher and the SIGHUP handler until the app stops."""
        watcher = None
        loop = asyncio.get_running_loop()
        if self.auth is not None:
            watcher = asyncio.create_task(self.auth.watch())
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        else:
            log.warning("authentication is DISABLED (auth.enabled=false)")
        yield
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGHUP)

    def _on_sighup(self) -> None:
        assert self.auth is not None
        log.info("SIGHUP: reopening the audit log, reloading the key store")
        try:
            self.auth.audit.reopen()
        except OSError as exc:
            log.error("cannot reopen the audit log: %s", exc)
        self.auth.reload()


def _auth_guard(auth: Authenticator) -> Guard:
    def check(request: web.BaseRequest, endpoint: Endpoint) -> Callable[[int], None] | None:
        # The endpoint comes from the dispatch, classified on the path the router matches
        # (never the decoded request.path, where %2F looks like a separator); the audit
        # trail shows that same path.
        method, path = request.method, request.rel_url.path_safe
        if endpoint.open:
            return None
        headers = request.headers
        # aiohttp keeps the connection's peer address; the transport would ask the kernel.
        peer = request.remote or None
        principal = auth.authorize(
            method,
            path,
            authorization=headers.get("Authorization"),
            api_key=headers.get("X-API-Key"),
            peer=peer,
            forwarded_for=",".join(headers.getall("X-Forwarded-For", ())) or None,
            endpoint=endpoint,
        )
        if endpoint.permission != "model:deploy" or principal is None:
            return None

        def audited(status: int) -> None:
            client = client_address(
                peer, ",".join(headers.getall("X-Forwarded-For", ())), auth.trusted
            )
            auth.audit.emit(
                _DEPLOY_EVENTS.get(endpoint.route, "model.changed"),
                client=str(client) if client else None,
                model=endpoint.model,
                key_id=principal.key_id,
                name=principal.name,
                status=int(status),
            )

        return audited

    return check

"""The aiohttp application and the server's request handler.

Every request passes :func:`install`'s ``dispatch`` first: request id, error
rendering and access log, then the ``guard`` (the auth check, a plain function
called before the handler, so its errors render like any other), then the
handler. Before all of these, :func:`endpoint` classifies the request on the
path the router matches (``rel_url.path_safe``) and validates the model name
and version it names (400 if invalid), so that the auth check, the infer fast
path and the router all see one endpoint and one model.
``POST /v2/models/{m}[/versions/{v}]/infer`` goes straight to its handler;
every other path goes through the application's router. In-process
measurements on the demo model: an aiohttp middleware layer, even one that
does nothing, cost 2.4-3.4 us per request, the router's resolution about 4 us
and a coroutine wrapped around the handler 3.7 us; the hot route pays none of
them. The result cache plugs into the core service
(``InferenceService(cache=...)``), after validation and before the batcher.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable
from functools import lru_cache

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from ..auth.rbac import Endpoint, classify
from ..config import Settings
from ..errors import OpenClawError, PayloadTooLarge
from ..logs import model_var, request_id_var
from ..models.names import check_model_name, check_version
from ..service import InferenceService
from . import handlers
from .appkeys import SERVICE_KEY, SETTINGS_KEY

__all__ = [
    "SERVICE_KEY",
    "SETTINGS_KEY",
    "Guard",
    "build_app",
    "endpoint",
    "error_response",
    "install",
]

# Called with each request and its endpoint before the handler: raises an OpenClawError
# to refuse it, or returns None, or a callback that gets the response status once known.
Guard = Callable[[web.BaseRequest, Endpoint], Callable[[int], None] | None]

log = logging.getLogger("openclaw.http")
access = logging.getLogger("openclaw.access")

_ids = itertools.count(1)
_PREFIX = f"{os.getpid():x}-"
# A caller's X-Request-ID is echoed in the response and every log line of the request:
# anything longer or outside printable ASCII is replaced by a generated id.
_MAX_REQUEST_ID = 200
# Longer request lines are classified on every request: the cache never holds 8 KiB ones.
_MAX_CACHED_LINE = 256


def error_response(status: int, message: str, retry_after: float | None = None) -> web.Response:
    """Return ``{"error": message}`` as application/json with the given status."""
    headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after else None
    # body= (not text=) so the Content-Type is exactly application/json, without charset.
    return web.Response(
        body=orjson.dumps({"error": message}),
        status=status,
        headers=headers,
        content_type="application/json",
    )


@lru_cache(maxsize=4096)
def _cached_endpoint(method: str, path: str) -> Endpoint:
    return _checked(classify(method, path))


def _checked(found: Endpoint) -> Endpoint:
    if found.target is not None:
        check_model_name(found.target)
    if found.version is not None:
        check_version(found.version)
    return found


def endpoint(method: str, path: str) -> Endpoint:
    """Return the endpoint of ``method path`` with its model name and version validated.

    ``path`` must be ``request.rel_url.path_safe``, the form aiohttp's router
    matches; a name or version of the wrong form raises InvalidModelName (400).
    """
    if len(path) + len(method) > _MAX_CACHED_LINE:
        return _checked(classify(method, path))
    return _cached_endpoint(method, path)


def _dispatcher(
    settings: Settings, service: InferenceService, guard: Guard | None, route: Handler
) -> Handler:
    """Return the server's request handler: the request context around every request."""
    access_log = settings.logging.access_log and access.isEnabledFor(logging.DEBUG)
    limit = settings.server.max_body_bytes

    async def dispatch(request: web.BaseRequest) -> web.StreamResponse:
        rid = request.headers.get("X-Request-ID")
        if not rid or len(rid) > _MAX_REQUEST_ID or not (rid.isascii() and rid.isprintable()):
            rid = _PREFIX + str(next(_ids))
        request_id_var.set(rid)
        path = request.rel_url.path_safe
        # Set on every request, so that no request's log lines can show another's model;
        # the model only once its name is known to be valid.
        model_var.set(None)
        start = time.monotonic() if access_log else 0.0
        after: Callable[[int], None] | None = None
        try:
            found = endpoint(request.method, path)
            if found.target is not None:
                model_var.set(found.target)
            if guard is not None:
                after = guard(request, found)
            if found.route == "infer":
                response = await handlers.infer_model(request, service, found.target, found.version)
            else:
                response = await route(request)
        except Exception as exc:
            response = _failure(exc, rid, limit)
            if response is None:  # an HTTPException under 400 (a redirect): aiohttp sends it
                if after is not None:
                    after(exc.status)
                raise
        except BaseException:  # cancelled at shutdown: the guard still hears of it
            if after is not None:
                after(500)
            raise
        if after is not None:
            after(response.status)
        response.headers["X-Request-ID"] = rid
        if access_log:
            access.debug(
                "%s %s %d",
                request.method,
                path,
                response.status,
                extra={"duration_ms": round((time.monotonic() - start) * 1000, 3)},
            )
        return response

    return dispatch


def _failure(exc: Exception, rid: str, limit: int) -> web.Response | None:
    """Return the error response for ``exc`` (None: not an error, re-raise it), logged."""
    if isinstance(exc, OpenClawError):
        if exc.status >= 500 and exc.status != 503:
            log.error("request failed: %s", exc.message, extra={"code": exc.code})
        elif exc.status != 404:
            log.warning("request refused: %s", exc.message, extra={"code": exc.code})
        return error_response(exc.status, exc.message, exc.retry_after)
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        refused = PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        log.warning("request refused: %s", refused.message, extra={"code": refused.code})
        return error_response(refused.status, refused.message)
    if isinstance(exc, web.HTTPException):
        return None if exc.status < 400 else error_response(exc.status, exc.reason)
    log.error("unhandled error", exc_info=exc)
    return error_response(500, f"internal server error (request id {rid})")


def build_app(settings: Settings, service: InferenceService) -> web.Application:
    """Return the aiohttp application serving the Open Inference Protocol.

    Serve it with :func:`install` on its runner: the request context (error
    rendering, request ids, the auth guard) lives there, not in a middleware.
    """
    app = web.Application(
        client_max_size=settings.server.max_body_bytes,
        handler_args={"max_field_size": 16384},
    )
    app[SETTINGS_KEY] = settings
    app[SERVICE_KEY] = service
    handlers.add_routes(app)
    return app


def install(
    runner: web.AppRunner,
    settings: Settings,
    service: InferenceService,
    *,
    guard: Guard | None = None,
) -> None:
    """Put the request context in front of the app's router; call after ``runner.setup()``.

    The server keeps the app's request factory (body size limit, header limits)
    and its router for every route; only ``dispatch`` comes first.
    """
    server = runner.server
    if server is None:
        raise RuntimeError("install() needs a runner after setup()")
    server.request_handler = _dispatcher(settings, service, guard, server.request_handler)

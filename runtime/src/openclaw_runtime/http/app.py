"""The aiohttp application and the server's request handler.

Every request passes :func:`install`'s ``dispatch`` first: request id, error
rendering and access log, then the ``guard`` (the auth check, a plain function
called before the handler, so its errors render like any other), then the
handler. ``POST /v2/models/{m}[/versions/{v}]/infer`` goes straight to its
handler; every other path goes through the application's router (and
``extra_middlewares``, if any). In-process measurements on the demo model: an
aiohttp middleware layer, even one that does nothing, cost 2.4-3.4 us per
request, the router's resolution about 4 us and a coroutine wrapped around the
handler 3.7 us; the hot route pays none of them. The result cache plugs into
the core service (``InferenceService(cache=...)``), after validation and before
the batcher.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ..config import Settings
from ..errors import OpenClawError, PayloadTooLarge
from ..logs import model_var, request_id_var
from ..service import InferenceService
from . import handlers
from .keys import SERVICE_KEY, SETTINGS_KEY

__all__ = ["SERVICE_KEY", "SETTINGS_KEY", "Guard", "build_app", "error_response", "install"]

# Called with each request before its handler: raises an OpenClawError to refuse it,
# or returns None, or a callback that gets the response status once it is known.
Guard = Callable[[web.BaseRequest], Callable[[int], None] | None]

log = logging.getLogger("openclaw.http")
access = logging.getLogger("openclaw.access")

_ids = itertools.count(1)
_PREFIX = f"{os.getpid():x}-"


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


_MODELS = "/v2/models/"


def _infer_target(path: str) -> tuple[str, str | None] | None:
    """Return (model, version) when ``path`` is an infer URL, else None.

    Accepts the URLs the router's ``/v2/models/{model}[/versions/{version}]/infer``
    routes accept (non-empty segments without "/"); both reach the same handler.
    """
    if not path.endswith("/infer") or not path.startswith(_MODELS):
        return None
    parts = path[len(_MODELS) : -len("/infer")].split("/")
    if len(parts) == 1 and parts[0]:
        return parts[0], None
    if len(parts) == 3 and parts[1] == "versions" and parts[0] and parts[2]:
        return parts[0], parts[2]
    return None


def _model_of(path: str) -> str | None:
    """Return the model a /v2/models/{model}... path names (for the logs), else None."""
    if not path.startswith(_MODELS):
        return None
    model = path[len(_MODELS) :].partition("/")[0]
    return None if not model or path == _MODELS + "stats" else model


def _dispatcher(
    settings: Settings, service: InferenceService, guard: Guard | None, route: Handler
) -> Handler:
    """Return the server's request handler: the request context around every request."""
    access_log = settings.logging.access_log and access.isEnabledFor(logging.DEBUG)
    limit = settings.server.max_body_bytes

    async def dispatch(request: web.BaseRequest) -> web.StreamResponse:
        rid = request.headers.get("X-Request-ID") or _PREFIX + str(next(_ids))
        request_id_var.set(rid)
        path = request.path
        target = _infer_target(path) if request.method == "POST" else None
        # Set on every request, so that no request's log lines can show another's model.
        model_var.set(target[0] if target is not None else _model_of(path))
        start = time.monotonic() if access_log else 0.0
        after: Callable[[int], None] | None = None
        try:
            if guard is not None:
                after = guard(request)
            if target is not None:
                response = await handlers.infer_model(request, service, *target)
            else:
                response = await route(request)
        except OpenClawError as exc:
            if exc.status >= 500 and exc.status != 503:
                log.error("request failed: %s", exc.message, extra={"code": exc.code})
            elif exc.status != 404:
                log.warning("request refused: %s", exc.message, extra={"code": exc.code})
            response = error_response(exc.status, exc.message, exc.retry_after)
        except web.HTTPRequestEntityTooLarge:
            exc = PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
            log.warning("request refused: %s", exc.message, extra={"code": exc.code})
            response = error_response(exc.status, exc.message)
        except web.HTTPException as exc:
            if exc.status < 400:
                if after is not None:
                    after(exc.status)
                raise
            response = error_response(exc.status, exc.reason)
        except Exception:
            log.exception("unhandled error")
            response = error_response(500, f"internal server error (request id {rid})")
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


def build_app(
    settings: Settings,
    service: InferenceService,
    *,
    extra_middlewares: Iterable[Middleware] = (),
) -> web.Application:
    """Return the aiohttp application serving the Open Inference Protocol.

    Serve it with :func:`install` on its runner: the request context (error
    rendering, request ids, the auth guard) lives there, not in a middleware.
    """
    app = web.Application(
        client_max_size=settings.server.max_body_bytes,
        middlewares=list(extra_middlewares),
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

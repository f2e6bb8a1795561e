"""Route handlers: translate HTTP to the core service and back; no logic of their own."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import PayloadEncodingError
from aiohttp.web_protocol import RequestPayloadError

from .. import __version__
from ..defaults import READY_PATH
from ..errors import BadRequest, ModelNotReady, UnsupportedMediaType, clip
from ..metrics import CONTENT_TYPE_LATEST, render
from ..models.session import LoadedModel
from ..protocol import decode_request, encode_response
from ..protocol.compression import choose_encoding, compress
from ..service import InferenceService
from .appkeys import SERVICE_KEY, SETTINGS_KEY

__all__ = ["EXTENSIONS", "add_routes", "infer_model"]

EXTENSIONS = [
    "binary_tensor_data",
    "model_repository",
    "statistics",
    "model_configuration",
    "parameters",
    "classification",
]
_TRITON_TYPES = {"BYTES": "TYPE_STRING"}
_ACCEPTED_TYPES = {
    "",
    "application/json",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
    "text/plain",
}
_HEADER = "Inference-Header-Content-Length"


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _service(request: web.Request):
    return request.app[SERVICE_KEY]


async def live(request: web.Request) -> web.Response:
    """GET /v2/health/live."""
    ok = _service(request).live
    return _json({"live": ok}, 200 if ok else 503)


async def ready(request: web.Request) -> web.Response:
    """GET /v2/health/ready: 503 while starting or draining."""
    ok = _service(request).ready
    return _json({"ready": ok}, 200 if ok else 503)


async def server_metadata(request: web.Request) -> web.Response:
    """GET /v2."""
    return _json({"name": "openclaw-runtime", "version": __version__, "extensions": EXTENSIONS})


def _tensor_meta(specs, batched: bool) -> list[dict[str, Any]]:
    return [
        {"name": s.name, "datatype": s.datatype, "shape": ([-1] if batched else []) + list(s.shape)}
        for s in specs
    ]


async def _loaded(request: web.Request) -> LoadedModel:
    return await _service(request).resolve(
        request.match_info["model"], request.match_info.get("version")
    )


async def model_metadata(request: web.Request) -> web.Response:
    """GET /v2/models/{model}[/versions/{version}]."""
    service = _service(request)
    loaded = await _loaded(request)
    batched = loaded.config.max_batch_size > 0
    versions = [
        e.version for e in service.index(ready_only=True) if e.name == loaded.name and e.version
    ]
    return _json(
        {
            "name": loaded.name,
            "versions": versions,
            "platform": loaded.config.platform,
            "inputs": _tensor_meta(loaded.config.inputs, batched),
            "outputs": _tensor_meta(loaded.config.outputs, batched),
        }
    )


async def model_ready(request: web.Request) -> web.Response:
    """GET /v2/models/{model}[/versions/{version}]/ready."""
    name = request.match_info["model"]
    service = _service(request)
    try:
        service.repository.get(name, request.match_info.get("version"))
    except ModelNotReady:
        return _json({"name": name, "ready": False}, 503)
    return _json({"name": name, "ready": True})


def _triton_tensor(spec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "data_type": _TRITON_TYPES.get(spec.datatype, "TYPE_" + spec.datatype),
        "dims": list(spec.shape),
    }


async def model_config(request: web.Request) -> web.Response:
    """GET /v2/models/{model}[/versions/{version}]/config, in Triton's field names."""
    loaded = await _loaded(request)
    cfg = loaded.config
    settings = request.app[SETTINGS_KEY]
    policy = cfg.version_policy
    if policy.all:
        policy_doc: dict[str, Any] = {"all": {}}
    elif policy.specific is not None:
        policy_doc = {"specific": {"versions": list(policy.specific)}}
    else:
        policy_doc = {"latest": {"num_versions": policy.latest or 1}}
    delay = cfg.batching.max_queue_delay_us
    return _json(
        {
            "name": cfg.name,
            "platform": cfg.platform,
            "backend": "onnxruntime",
            "max_batch_size": cfg.max_batch_size,
            "input": [_triton_tensor(s) for s in cfg.inputs],
            "output": [_triton_tensor(s) for s in cfg.outputs],
            "version_policy": policy_doc,
            "dynamic_batching": {
                "max_queue_delay_microseconds": (
                    settings.batching.max_queue_delay_us if delay is None else delay
                ),
            }
            if cfg.max_batch_size > 0
            else None,
            "label_filename": cfg.labels or "",
            "parameters": cfg.parameters,
        }
    )


async def model_stats(request: web.Request) -> web.Response:
    """GET /v2/models[/{model}[/versions/{version}]]/stats."""
    return _json(
        _service(request).statistics(
            request.match_info.get("model"), request.match_info.get("version")
        )
    )


async def infer(request: web.Request) -> web.StreamResponse:
    """POST /v2/models/{model}[/versions/{version}]/infer, reached through the router."""
    return await infer_model(
        request, _service(request), request.match_info["model"], request.match_info.get("version")
    )


async def infer_model(
    request: web.BaseRequest, service: InferenceService, model: str, version: str | None
) -> web.Response:
    """Run one inference request (JSON or binary tensor extension) on ``model``.

    The server's dispatch calls this directly for the infer URLs; the router's
    ``infer`` route is the same handler.
    """
    content_type = request.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if content_type not in _ACCEPTED_TYPES and not content_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"Content-Type {clip(content_type)!r} is not supported; send application/json or, with "
            "Inference-Header-Content-Length, application/octet-stream"
        )
    loaded = await service.resolve(model, version)
    # aiohttp undoes gzip/deflate Content-Encoding itself, bounded by client_max_size.
    try:
        body = await request.read()
    except (PayloadEncodingError, RequestPayloadError) as exc:
        encoding = request.headers.get("Content-Encoding")
        raise UnsupportedMediaType(
            f"body is not valid {clip(encoding or '')} data: {clip(str(exc))}"
        ) from None
    header = request.headers.get(_HEADER)
    header_length = None
    if header is not None:
        try:
            if len(header) > 20:  # no byte count has more digits; int() of 4000 would parse
                raise ValueError(header)
            header_length = int(header)
        except ValueError:
            raise BadRequest(f"{_HEADER} must be an integer, got {clip(header)!r}") from None
    limits = service.settings.server
    if len(body) < limits.decode_in_thread_bytes:
        decoded = decode_request(body, header_length, limits)
    else:  # a big body would hold the event loop (and every other request) while it decodes
        decoded = await asyncio.to_thread(decode_request, body, header_length, limits)
    response = await service.infer(loaded, decoded)
    payload, json_length = encode_response(response, decoded.outputs, decoded.binary_output)
    headers = {}
    if json_length is not None:
        headers[_HEADER] = str(json_length)
        ctype = "application/octet-stream"
    else:
        ctype = "application/json"
    accept = request.headers.get("Accept-Encoding")
    if accept:
        chosen = choose_encoding(accept)
        if chosen:
            payload = compress(payload, chosen)
            headers["Content-Encoding"] = chosen
    return web.Response(body=payload, headers=headers, content_type=ctype)


async def repository_index(request: web.Request) -> web.Response:
    """POST /v2/repository/index with optional {"ready": true}."""
    ready_only = False
    if request.can_read_body:
        raw = await request.read()
        if raw.strip():
            try:
                doc = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise BadRequest("repository index body must be JSON") from None
            ready_only = bool(doc.get("ready")) if isinstance(doc, dict) else False
    entries = _service(request).index(ready_only=ready_only)
    return _json(
        [
            {"name": e.name, "version": e.version, "state": e.state, "reason": e.reason}
            for e in entries
        ]
    )


async def repository_load(request: web.Request) -> web.Response:
    """POST /v2/repository/models/{model}/load."""
    await _service(request).load(request.match_info["model"], broadcast=True)
    return _json({})


async def repository_unload(request: web.Request) -> web.Response:
    """POST /v2/repository/models/{model}/unload."""
    await _service(request).unload(request.match_info["model"], broadcast=True)
    return _json({})


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics in the Prometheus text format (all worker processes)."""
    service = _service(request)
    if service.metrics is None:
        raise web.HTTPNotFound(reason="metrics are disabled (metrics.enabled: false)")
    service.metrics.sample_process()
    return web.Response(body=render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(app: web.Application) -> None:
    """Register every route of the Open Inference Protocol and its extensions."""
    m = "/v2/models/{model}"
    v = m + "/versions/{version}"
    # aiohttp matches resources in registration order: the hot route goes first.
    app.router.add_routes(
        [
            web.post(m + "/infer", infer),
            web.post(v + "/infer", infer),
            web.get("/v2/health/live", live),
            web.get(READY_PATH, ready),
            web.get("/v2", server_metadata),
            web.get("/v2/models/stats", model_stats),
            web.get(m, model_metadata),
            web.get(v, model_metadata),
            web.get(m + "/ready", model_ready),
            web.get(v + "/ready", model_ready),
            web.get(m + "/config", model_config),
            web.get(v + "/config", model_config),
            web.get(m + "/stats", model_stats),
            web.get(v + "/stats", model_stats),
            web.post("/v2/repository/index", repository_index),
            web.post("/v2/repository/models/{model}/load", repository_load),
            web.post("/v2/repository/models/{model}/unload", repository_unload),
            web.get("/metrics", metrics),
        ]
    )

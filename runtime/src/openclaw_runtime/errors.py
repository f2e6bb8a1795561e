"""The one error hierarchy of the runtime.

Every error carries the HTTP status it maps to (from :mod:`http.HTTPStatus`, so
the core never imports the web layer) and a stable machine-readable ``code``.
The HTTP layer renders them as ``{"error": message}``; anything that is not an
:class:`OpenClawError` is a bug and becomes a 500 without internals.
"""

from __future__ import annotations

from http import HTTPStatus

__all__ = [
    "BadRequest",
    "ChecksumMismatch",
    "ConfigError",
    "DeadlineExceeded",
    "Forbidden",
    "IncompatibleModel",
    "InferenceFailed",
    "InvalidInput",
    "InvalidModelName",
    "MemoryBudgetExceeded",
    "ModelConfigError",
    "ModelLoadError",
    "ModelNotFound",
    "ModelNotReady",
    "OpenClawError",
    "Overloaded",
    "PayloadTooLarge",
    "Unauthorized",
    "UnsupportedMediaType",
    "clip",
]

# How much of a caller's string an error message repeats: enough to recognise it,
# never a whole request line (up to 8 KiB) copied into every error and log line.
ECHO_LIMIT = 200


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """Return ``text`` cut to ``limit`` characters (marked with "...") for an error message."""
    return text if len(text) <= limit else text[:limit] + "..."


class OpenClawError(Exception):
    """Base of every error the runtime reports to a caller or an operator."""

    status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR
    code: str = "internal"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


# --- configuration -------------------------------------------------------------


class ConfigError(OpenClawError):
    """A configuration value is invalid; the message names key, value and what is allowed."""

    code = "config_invalid"


# --- requests --------------------------------------------------------------------


class BadRequest(OpenClawError):
    """The request is malformed (syntax, missing fields)."""

    status = HTTPStatus.BAD_REQUEST
    code = "bad_request"


class InvalidInput(BadRequest):
    """An input tensor does not match the model (name, shape, datatype, data)."""

    code = "invalid_input"


class InvalidModelName(BadRequest):
    """A model name or version in a path or a call is not of the allowed form."""

    code = "invalid_model_name"


class UnsupportedMediaType(OpenClawError):
    """The body cannot be decoded (unknown content type or encoding)."""

    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    code = "unsupported_media_type"


class PayloadTooLarge(OpenClawError):
    """The body (or its decompressed form) is over the configured limit."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"


class Unauthorized(OpenClawError):
    """No valid credentials were presented."""

    status = HTTPStatus.UNAUTHORIZED
    code = "unauthorized"


class Forbidden(OpenClawError):
    """The credentials are valid but lack the permission or the source address is refused."""

    status = HTTPStatus.FORBIDDEN
    code = "forbidden"


# --- models ------------------------------------------------------------------------


class ModelNotFound(OpenClawError):
    """The model or the version is not in the repository."""

    status = HTTPStatus.NOT_FOUND
    code = "model_not_found"


class ModelNotReady(OpenClawError):
    """The model exists but no version is ready to serve."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "model_not_ready"

    def __init__(self, message: str, *, retry_after: float | None = 1.0) -> None:
        super().__init__(message, retry_after=retry_after)


class ModelLoadError(OpenClawError):
    """A model version could not be loaded; the previous version keeps serving."""

    status = HTTPStatus.BAD_REQUEST
    code = "model_load_failed"


class ModelConfigError(ModelLoadError):
    """A model's config.yaml is invalid or does not match the ONNX graph."""

    code = "model_config_invalid"


class ChecksumMismatch(ModelLoadError):
    """A file does not match the SHA-256 recorded in the version's manifest."""

    code = "checksum_mismatch"


class IncompatibleModel(ModelLoadError):
    """The model's opset or IR version is not supported by the installed onnxruntime."""

    code = "model_incompatible"


class MemoryBudgetExceeded(ModelLoadError):
    """Loading the model would exceed the configured model memory budget."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "memory_budget_exceeded"


# --- scheduling ----------------------------------------------------------------------


class Overloaded(OpenClawError):
    """The model's queue is full; the caller should retry later."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "overloaded"

    def __init__(self, message: str, *, retry_after: float | None = 1.0) -> None:
        super().__init__(message, retry_after=retry_after)


class DeadlineExceeded(OpenClawError):
    """The request could not be run within its timeout; it was not run late."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "deadline_exceeded"

    def __init__(self, message: str, *, retry_after: float | None = 1.0) -> None:
        super().__init__(message, retry_after=retry_after)


class InferenceFailed(OpenClawError):
    """onnxruntime failed to run a batch; every request of that batch gets this error."""

    code = "inference_failed"

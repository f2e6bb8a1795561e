"""The relay's one error hierarchy; each class carries the HTTP status it maps to."""

from __future__ import annotations

from http import HTTPStatus

__all__ = ["ConfigError", "DeliveryError", "PayloadError", "RelayError", "UnknownChannel"]


class RelayError(Exception):
    """Base class: ``status`` is the HTTP answer, ``code`` a stable machine-readable name."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR
    code = "relay_error"


class ConfigError(RelayError):
    """The configuration file is missing, unreadable or has an invalid value."""

    code = "config_error"


class PayloadError(RelayError):
    """The request body is not an Alertmanager webhook payload."""

    status = HTTPStatus.BAD_REQUEST
    code = "bad_payload"


class UnknownChannel(RelayError):
    """The path names a channel the configuration does not have."""

    status = HTTPStatus.NOT_FOUND
    code = "unknown_channel"


class DeliveryError(RelayError):
    """The robot API refused the message or could not be reached after every attempt.

    Answered with 502, so Alertmanager keeps the notification and retries it.
    """

    status = HTTPStatus.BAD_GATEWAY
    code = "delivery_failed"

"""Errors of the auth package (part of the one hierarchy in :mod:`openclaw_runtime.errors`)."""

from __future__ import annotations

from http import HTTPStatus

from ..errors import ConfigError, OpenClawError

__all__ = ["KeyStoreError", "RateLimited"]


class KeyStoreError(ConfigError):
    """The key store cannot be read, decrypted or written; the message says how to fix it."""

    code = "key_store_invalid"


class RateLimited(OpenClawError):
    """Too many requests (or failed authentications) from a key or an address."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "rate_limited"

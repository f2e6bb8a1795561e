"""API keys, RBAC, client addresses, rate limits and the audit trail (no web framework here).

The HTTP layer calls :meth:`Authenticator.authorize` for every request and
renders the errors it raises; the ``keys`` CLI uses :class:`KeyManager`.
"""

from __future__ import annotations

from .audit import AUTH_FAILED, AuditLog
from .caller import Principal
from .errors import KeyStoreError, RateLimited
from .keys import KeyHasher, KeyRecord, KeyState, format_key, parse_key
from .manage import IssuedKey, KeyManager
from .network import AddressMatcher, client_address, parse_address
from .ratelimit import FailureTracker, RateLimiter, TokenBucket
from .rbac import DEFAULT_ROLES, PERMISSIONS, Endpoint, RoleMap, classify
from .service import Authenticator, preflight
from .settings import AuthSettings
from .store import KEY_ENV, KeyStore, load_fernet_key

__all__ = [
    "AUTH_FAILED",
    "DEFAULT_ROLES",
    "KEY_ENV",
    "PERMISSIONS",
    "AddressMatcher",
    "AuditLog",
    "AuthSettings",
    "Authenticator",
    "Endpoint",
    "FailureTracker",
    "IssuedKey",
    "KeyHasher",
    "KeyManager",
    "KeyRecord",
    "KeyState",
    "KeyStore",
    "KeyStoreError",
    "Principal",
    "RateLimited",
    "RateLimiter",
    "RoleMap",
    "TokenBucket",
    "classify",
    "client_address",
    "format_key",
    "load_fernet_key",
    "parse_address",
    "parse_key",
    "preflight",
]

"""API key material: generation, parsing, keyed hashing and the key record.

A key as handed to a client is ``oc_<key id>_<secret>``: the id lets the
runtime find the record in O(1), the secret (256 random bits) is never stored;
the store keeps ``HMAC-SHA256(server secret, secret)`` and the runtime compares
digests with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

__all__ = [
    "KEY_PREFIX",
    "SECRET_BYTES",
    "KeyHasher",
    "KeyRecord",
    "KeyState",
    "format_key",
    "new_key_id",
    "new_secret",
    "parse_key",
    "utcnow",
]

KEY_PREFIX = "oc"
SECRET_BYTES = 32  # 256 bits of entropy per key
_ID_BYTES = 8
_KEY_RE = re.compile(r"^oc_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime (seconds resolution)."""
    return datetime.now(UTC).replace(microsecond=0)


class KeyState(StrEnum):
    """Lifecycle of a key; ``rotating`` keys stay valid until their grace period ends."""

    ACTIVE = "active"
    ROTATING = "rotating"
    REVOKED = "revoked"


def new_key_id() -> str:
    """Return a fresh random key id (16 hex digits)."""
    return secrets.token_hex(_ID_BYTES)


def new_secret() -> str:
    """Return a fresh secret: 256 random bits, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=").decode()


def format_key(key_id: str, secret: str) -> str:
    """Return the full API key string a client presents."""
    return f"{KEY_PREFIX}_{key_id}_{secret}"


def parse_key(presented: str) -> tuple[str, str] | None:
    """Split a presented key into ``(key id, secret)``, or None if it is not well formed."""
    match = _KEY_RE.match(presented)
    if match is None:
        return None
    return match.group(1), match.group(2)


class KeyHasher:
    """Keyed hash of key secrets with the server secret (HMAC-SHA256)."""

    __slots__ = ("_secret",)

    def __init__(self, server_secret: bytes) -> None:
        if len(server_secret) < 32:
            raise ValueError("the server secret must be at least 32 bytes")
        self._secret = server_secret

    def digest(self, secret: str) -> str:
        """Return the hex HMAC-SHA256 of ``secret``."""
        return hmac.new(self._secret, secret.encode(), hashlib.sha256).hexdigest()

    def verify(self, secret: str, expected_hex: str) -> bool:
        """Return True when ``secret`` hashes to ``expected_hex`` (constant-time comparison)."""
        return hmac.compare_digest(self.digest(secret), expected_hex)


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What the store keeps about one key (never the key itself)."""

    id: str
    name: str
    digest: str
    roles: tuple[str, ...]
    cidrs: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    created: datetime = field(default_factory=utcnow)
    expires: datetime = field(default_factory=lambda: utcnow() + timedelta(days=90))
    state: KeyState = KeyState.ACTIVE
    # For a rotating key: when the grace period ends; and the id of its successor.
    grace_until: datetime | None = None
    replaced_by: str | None = None
    revoked: datetime | None = None

    def valid_at(self, now: datetime) -> bool:
        """Return True when the key may authenticate at ``now``."""
        if self.state is KeyState.REVOKED or now >= self.expires:
            return False
        if self.state is KeyState.ROTATING and self.grace_until is not None:
            return now < self.grace_until
        return True

    def effective_expiry(self) -> datetime:
        """Return the moment the key stops working (expiry or end of rotation grace)."""
        if self.state is KeyState.ROTATING and self.grace_until is not None:
            return min(self.expires, self.grace_until)
        return self.expires

    def with_changes(self, **changes: Any) -> KeyRecord:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data (the digest included: store use only)."""
        return {
            "id": self.id,
            "name": self.name,
            "digest": self.digest,
            "roles": list(self.roles),
            "cidrs": list(self.cidrs),
            "models": list(self.models),
            "created": _ts(self.created),
            "expires": _ts(self.expires),
            "state": self.state.value,
            "grace_until": _ts(self.grace_until) if self.grace_until else None,
            "replaced_by": self.replaced_by,
            "revoked": _ts(self.revoked) if self.revoked else None,
        }

    def public_dict(self) -> dict[str, Any]:
        """Return the record for display: everything but the digest."""
        data = self.to_dict()
        del data["digest"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyRecord:
        """Build a record from :meth:`to_dict` output."""
        grace = data.get("grace_until")
        revoked = data.get("revoked")
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            digest=str(data["digest"]),
            roles=tuple(data.get("roles", ())),
            cidrs=tuple(data.get("cidrs", ())),
            models=tuple(data.get("models", ())),
            created=_parse_ts(data["created"]),
            expires=_parse_ts(data["expires"]),
            state=KeyState(data.get("state", "active")),
            grace_until=_parse_ts(grace) if grace else None,
            replaced_by=data.get("replaced_by"),
            revoked=_parse_ts(revoked) if revoked else None,
        )

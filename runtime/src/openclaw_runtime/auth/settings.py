"""The ``auth:`` section of the runtime settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .network import AddressMatcher
from .rbac import RoleMap

__all__ = ["AuthSettings"]


def _range(lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    return {"min": lo, "max": hi}


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """API keys, RBAC, client addresses, rate limits and the audit trail."""

    # Turning auth off is explicit and logged as a warning at start.
    enabled: bool = True
    # The Fernet-encrypted key store written by `openclaw-runtime keys`.
    key_store: str = "/etc/openclaw/keys.store"
    # File holding the store's Fernet key; empty = $OPENCLAW_KEY_STORE_KEY.
    key_store_key_file: str = ""
    # Seconds between checks of the store file for changes (SIGHUP reloads at once).
    reload_interval_seconds: float = field(default=2.0, metadata=_range(0.1, 3600))
    # Audit trail: a file path, "-" for standard error, "" to switch it off.
    audit_log: str = "-"
    # Peers (CIDRs) whose X-Forwarded-For header names the client (the load balancers).
    trusted_proxies: tuple[str, ...] = ()
    # Extra roles, or replacements of the default ones: {name: [permission, ...]}.
    roles: dict[str, Any] = field(default_factory=dict)
    # Token buckets per worker process; a rate of 0 switches the limit off.
    key_rate_per_second: float = field(default=10_000.0, metadata=_range(0))
    key_burst: int = field(default=20_000, metadata=_range(1))
    address_rate_per_second: float = field(default=0.0, metadata=_range(0))
    address_burst: int = field(default=200, metadata=_range(1))
    # Failed authentications per address within the window before it is blocked (0 = never).
    max_failures: int = field(default=10, metadata=_range(0))
    failure_window_seconds: float = field(default=60.0, metadata=_range(1))
    block_seconds: float = field(default=300.0, metadata=_range(1))
    # Lifetime of new keys and rotation grace period (CLI defaults).
    key_lifetime_days: float = field(default=90.0, metadata=_range(1, 3650))
    rotation_grace_days: float = field(default=7.0, metadata=_range(0, 365))

    def __post_init__(self) -> None:
        try:
            AddressMatcher(self.trusted_proxies)
        except ValueError as exc:
            raise ValueError(f"auth.trusted_proxies: {exc}") from None
        RoleMap(self.roles)

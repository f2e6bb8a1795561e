"""The authenticator: key -> record -> address, rate and permission checks, with audit events.

Transport-neutral: the HTTP layer passes method, path, the two credential
headers and the peer address, and renders the errors raised here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import Forbidden, Unauthorized
from .audit import AUTH_FAILED, AuditLog
from .errors import RateLimited
from .keys import KeyRecord, KeyState, parse_key
from .metrics import auth_metrics
from .network import AddressMatcher, client_address
from .ratelimit import FailureTracker, RateLimiter
from .rbac import Endpoint, RoleMap, classify
from .settings import AuthSettings
from .store import KeyStore, load_fernet_key

__all__ = ["Authenticator", "Principal", "preflight"]

_log = logging.getLogger("openclaw_runtime.auth")
# The one message for every authentication failure: it must not tell an unknown
# key id from a wrong secret, an expired or a revoked key.
_UNAUTHORIZED = "missing or invalid API key (send 'Authorization: Bearer <key>' or 'X-API-Key')"
_DUMMY_DIGEST = "0" * 64
_MAX_AUDIT_PATH = 256


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    key_id: str
    name: str
    roles: tuple[str, ...]
    permissions: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Entry:
    record: KeyRecord
    principal: Principal
    networks: AddressMatcher
    models: frozenset[str]
    not_after: float


class Authenticator:
    """Checks every request against the key store, the roles and the limits."""

    def __init__(
        self,
        settings: AuthSettings,
        store: KeyStore,
        *,
        audit: AuditLog | None = None,
        clock=time.monotonic,
        wallclock=time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.audit = audit or AuditLog(settings.audit_log)
        self.roles = RoleMap(settings.roles)
        self.metrics = auth_metrics()
        self.trusted = AddressMatcher(settings.trusted_proxies)
        self._wallclock = wallclock
        self._key_limits = RateLimiter(
            settings.key_rate_per_second, settings.key_burst, clock=clock
        )
        self._addr_limits = RateLimiter(
            settings.address_rate_per_second, settings.address_burst, clock=clock
        )
        self._failures = FailureTracker(
            settings.max_failures,
            settings.failure_window_seconds,
            settings.block_seconds,
            clock=clock,
        )
        self._entries: dict[str, _Entry] = {}
        # Keys already verified against their digest since the last reload: skips parsing and
        # the HMAC on the hot path. Only verified keys get in, so its size is bounded by use.
        self._verified: dict[str, _Entry] = {}
        # Requests granted since the last reload, by everything the pure checks read
        # (headers, peer, permission, model): a repeat only pays the expiry, the block
        # list and the rate limits. Cleared on reload, bounded like _verified.
        self._granted: dict[tuple, tuple[str, _Entry]] = {}
        self._rebuild()

    @classmethod
    def from_settings(
        cls, settings: AuthSettings, env: Mapping[str, str] | None = None
    ) -> Authenticator:
        """Open and decrypt the key store; raise KeyStoreError with a clear message if not."""
        store = KeyStore(settings.key_store, load_fernet_key(settings.key_store_key_file, env))
        store.load()
        return cls(settings, store)

    # --- key store ---------------------------------------------------------------

    def _rebuild(self) -> None:
        entries = {}
        for record in self.store.records():
            principal = Principal(
                record.id,
                record.name,
                record.roles,
                self.roles.permissions(record.roles),
            )
            try:
                networks = AddressMatcher(record.cidrs)
            except ValueError as exc:
                _log.error(
                    "key %s has an invalid allow-list and is disabled: %s",
                    record.id,
                    exc,
                )
                continue
            not_after = record.effective_expiry().timestamp()
            entries[record.id] = _Entry(
                record, principal, networks, frozenset(record.models), not_after
            )
        self._entries = entries
        self._verified = {}
        self._granted = {}

    def maybe_reload(self) -> bool:
        """Reload the key store if its file changed; return True when it did."""
        if self.store.maybe_reload():
            self._rebuild()
            self.audit.emit("keystore.reloaded", keys=len(self._entries), pid=os.getpid())
            return True
        return False

    def reload(self) -> bool:
        """Reload the key store now (SIGHUP)."""
        if self.store.reload():
            self._rebuild()
            self.audit.emit("keystore.reloaded", keys=len(self._entries), pid=os.getpid())
            return True
        return False

    async def watch(self) -> None:
        """Poll the store file for changes until cancelled (run as a background task)."""
        interval = self.settings.reload_interval_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                self.maybe_reload()
            except Exception:  # the watcher must outlive any one failure
                _log.exception("key store watcher failed")

    # --- requests ----------------------------------------------------------------------

    @staticmethod
    def presented_key(authorization: str | None, api_key: str | None) -> str | None:
        """Return the key from ``Authorization: Bearer`` or ``X-API-Key``."""
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                return value.strip()
        if api_key and api_key.strip():
            return api_key.strip()
        return None

    def authorize(
        self,
        method: str,
        path: str,
        *,
        authorization: str | None,
        api_key: str | None,
        peer: str | None,
        forwarded_for: str | None = None,
        endpoint: Endpoint | None = None,
    ) -> Principal | None:
        """Return the caller (None when open) or raise Unauthorized/Forbidden/RateLimited."""
        try:
            return self._authorize(
                method, path, authorization, api_key, peer, forwarded_for, endpoint
            )
        except Unauthorized:
            self.metrics.unauthorized.inc()
            raise
        except Forbidden:
            self.metrics.forbidden.inc()
            raise
        except RateLimited:
            self.metrics.rate_limited.inc()
            raise

    def _authorize(
        self,
        method: str,
        path: str,
        authorization: str | None,
        api_key: str | None,
        peer: str | None,
        forwarded_for: str | None,
        endpoint: Endpoint | None,
    ) -> Principal | None:
        endpoint = endpoint or classify(method, path)
        if endpoint.open:
            return None
        memo = (authorization, api_key, peer, forwarded_for, endpoint.permission, endpoint.model)
        granted = self._granted.get(memo)
        if granted is not None:
            client, entry = granted
            if self._wallclock() < entry.not_after:
                # What a grant does not settle: the block list and the rate limits.
                self._limit_address(client)
                self._limit_key(entry)
                return entry.principal
            del self._granted[memo]  # expired since: the full path below says so
        path = path[:_MAX_AUDIT_PATH]  # only used for the audit trail from here on
        addr = client_address(peer, forwarded_for, self.trusted)
        if addr is None:
            client = "unknown"
        elif peer is not None and not forwarded_for and ":" not in peer:
            client = peer  # a socket's dotted quad is already str(addr) (saves 0.6 us)
        else:
            client = str(addr)
        self._limit_address(client)

        presented = self.presented_key(authorization, api_key)
        if presented is None:
            # Counts towards the address's failure cap (which bounds these lines), but is
            # not an auth.failed line: fail2ban bans guessing, not forgetting the header.
            if self._failures.record_failure(client):
                self.audit.emit("auth.blocked", client=client, seconds=self.settings.block_seconds)
            self.audit.emit("auth.missing", client=client, method=method, path=path)
            raise Unauthorized(_UNAUTHORIZED)
        entry, reason = self._lookup(presented)
        if entry is None:
            self._failed(client, reason, method, path)
            raise Unauthorized(_UNAUTHORIZED)

        if not entry.networks.matches(addr):
            self._denied(client, entry, "address not allowed", method, path)
            raise Forbidden("this API key may not be used from this address")
        self._limit_key(entry)
        perm = endpoint.permission
        if perm is not None and perm not in entry.principal.permissions:
            self._denied(client, entry, f"missing permission {perm}", method, path)
            raise Forbidden(f"this API key lacks the permission {perm!r}")
        if endpoint.model is not None and entry.models and endpoint.model not in entry.models:
            self._denied(client, entry, "model not allowed", method, path)
            raise Forbidden(f"this API key may not use model {endpoint.model!r}")
        if len(self._granted) >= 4096:
            self._granted.clear()
        self._granted[memo] = (client, entry)
        return entry.principal

    def _limit_address(self, client: str) -> None:
        blocked = self._failures.blocked_for(client)
        if blocked:
            raise RateLimited(
                "too many failed authentications from this address", retry_after=blocked
            )
        # 429s are not audited one by one: under overload that would flood the trail.
        wait = self._addr_limits.check(client)
        if wait:
            raise RateLimited("rate limit exceeded for this address", retry_after=wait)

    def _limit_key(self, entry: _Entry) -> None:
        wait = self._key_limits.check(entry.record.id)
        if wait:
            raise RateLimited("rate limit exceeded for this API key", retry_after=wait)

    def _lookup(self, presented: str) -> tuple[_Entry | None, str]:
        entry = self._verified.get(presented)
        if entry is not None:
            if self._wallclock() >= entry.not_after:
                return None, "expired_key"
            return entry, "ok"
        parsed = parse_key(presented)
        if parsed is None:
            return None, "malformed_key"
        key_id, secret = parsed
        entry = self._entries.get(key_id)
        # Hash and compare even for unknown ids so that timing does not reveal which ids exist.
        good = self.store.hasher.verify(secret, entry.record.digest if entry else _DUMMY_DIGEST)
        if entry is None or not good:
            return None, "invalid_key"
        if entry.record.state is KeyState.REVOKED:
            return None, "revoked_key"
        if self._wallclock() >= entry.not_after:
            return None, "expired_key"
        if len(self._verified) >= 4096:
            self._verified.clear()
        self._verified[presented] = entry
        return entry, "ok"

    def _failed(self, client: str, reason: str, method: str, path: str) -> None:
        blocked = self._failures.record_failure(client)
        self.audit.emit(AUTH_FAILED, client=client, reason=reason, method=method, path=path)
        if blocked:
            self.audit.emit("auth.blocked", client=client, seconds=self.settings.block_seconds)

    def _denied(self, client: str, entry: _Entry, reason: str, method: str, path: str) -> None:
        self.audit.emit(
            "auth.denied",
            client=client,
            key_id=entry.record.id,
            reason=reason,
            method=method,
            path=path,
        )


def preflight(settings: AuthSettings, env: Mapping[str, str] | None = None) -> None:
    """Check at start-up that the key store opens (raise KeyStoreError); warn when auth is off."""
    if not settings.enabled:
        _log.warning(
            "authentication is DISABLED (auth.enabled=false): every client may call every "
            "endpoint; enable it outside development"
        )
        return
    Authenticator.from_settings(settings, env)

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
from dataclasses import dataclass, field

from ..errors import Forbidden, Unauthorized
from .audit import AUTH_FAILED, AuditLog
from .caller import Caller, Principal, direct_caller, proxied_caller
from .errors import RateLimited
from .keys import KeyRecord, KeyState, parse_key
from .metrics import auth_metrics
from .network import AddressMatcher, client_hop
from .ratelimit import FailureTracker, RateLimiter
from .rbac import Endpoint, RoleMap, classify
from .settings import AuthSettings
from .store import KeyStore, load_fernet_key

__all__ = ["Authenticator", "preflight"]

_log = logging.getLogger("openclaw_runtime.auth")
# The one message for every authentication failure: it must not tell an unknown
# key id from a wrong secret, an expired or a revoked key.
_UNAUTHORIZED = "missing or invalid API key (send 'Authorization: Bearer <key>' or 'X-API-Key')"
_DUMMY_DIGEST = "0" * 64
_MAX_AUDIT_PATH = 256
_ADDRESS_DENIED = "address not allowed"  # the fail2ban filter matches this auth.denied reason
# A granted request's repeat skips the pure checks. Each key keeps its own grants, at most
# this many (the oldest goes first): a key used from many addresses or for many models only
# evicts its own grants, never another key's, and memory is bounded by the store's keys.
_GRANTS_PER_KEY = 64
_MAX_MEMO_MODEL = 128  # the model name comes from the URL: longer ones are not memoised


@dataclass(frozen=True, slots=True)
class _Entry:
    record: KeyRecord
    principal: Principal
    networks: AddressMatcher
    models: frozenset[str]
    not_after: float
    # Grants since the last reload: (client, permission, model) -> the client's limit key.
    granted: dict[tuple, str] = field(default_factory=dict, compare=False)


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
        self._proxies = bool(self.trusted)
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
        # the HMAC on the hot path. Only a key's one exact text gets in, so its size is
        # bounded by the number of keys. The grants live in each _Entry.
        self._verified: dict[str, _Entry] = {}
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
        self.metrics.set_key_expiry(self.store.records())

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
        # "Bearer <key>" as clients send it, without the general parse (0.15 us).
        if authorization is not None and authorization.startswith("Bearer "):
            presented = authorization[7:].strip() or self.presented_key(None, api_key)
        else:
            presented = self.presented_key(authorization, api_key)
        entry = self._verified.get(presented) if presented is not None else None
        # The text of the client's address: the peer, or a hop named by trusted proxies.
        source = client_hop(peer, forwarded_for, self.trusted) if self._proxies else peer
        if entry is not None:
            bucket = entry.granted.get((source, endpoint.permission, endpoint.model))
            if bucket is not None and self._wallclock() < entry.not_after:
                # What a grant does not settle: the block list and the rate limits.
                self._limit_address(bucket)
                self._limit_key(entry)
                return entry.principal
        path = path[:_MAX_AUDIT_PATH]  # only used for the audit trail from here on
        caller = proxied_caller(source, self.trusted) if self._proxies else direct_caller(peer)
        self._limit_address(caller.bucket)

        if presented is None:
            # Counts towards the address's failure cap (which bounds these lines), but is
            # not an auth.failed line: fail2ban bans guessing, not forgetting the header.
            self.audit.emit(
                "auth.missing", client=caller.client, method=method, path=path, via=caller.via
            )
            self._count_failure(caller, "missing_key")
            raise Unauthorized(_UNAUTHORIZED)
        entry, reason = self._lookup(presented, entry)
        if entry is None:
            self.audit.emit(
                AUTH_FAILED,
                client=caller.client,
                reason=reason,
                method=method,
                path=path,
                via=caller.via,
            )
            self._count_failure(caller, reason)
            raise Unauthorized(_UNAUTHORIZED)

        if not entry.networks.matches(caller.addr):
            # A valid key from where it may not be used is likely a leaked one: it counts
            # like a failed authentication (block, fail2ban, metric).
            self._denied(caller, entry, _ADDRESS_DENIED, method, path)
            self._count_failure(caller, "address_not_allowed")
            raise Forbidden("this API key may not be used from this address")
        self._limit_key(entry)
        perm = endpoint.permission
        if perm is not None and perm not in entry.principal.permissions:
            self._denied(caller, entry, f"missing permission {perm}", method, path)
            raise Forbidden(f"this API key lacks the permission {perm!r}")
        model = endpoint.model
        if model is not None and entry.models and model not in entry.models:
            self._denied(caller, entry, "model not allowed", method, path)
            raise Forbidden(f"this API key may not use model {model!r}")
        if model is None or len(model) <= _MAX_MEMO_MODEL:
            granted = entry.granted
            if len(granted) >= _GRANTS_PER_KEY:
                del granted[next(iter(granted))]
            granted[(source, perm, model)] = caller.bucket
        return entry.principal

    def _limit_address(self, bucket: str) -> None:
        blocked = self._failures.blocked_for(bucket)
        if blocked:
            raise RateLimited(
                "too many failed authentications from this address", retry_after=blocked
            )
        # 429s are not audited one by one: under overload that would flood the trail.
        wait = self._addr_limits.check(bucket)
        if wait:
            raise RateLimited("rate limit exceeded for this address", retry_after=wait)

    def _limit_key(self, entry: _Entry) -> None:
        wait = self._key_limits.check(entry.record.id)
        if wait:
            raise RateLimited("rate limit exceeded for this API key", retry_after=wait)

    def _lookup(self, presented: str, verified: _Entry | None) -> tuple[_Entry | None, str]:
        """Return the key's entry (``verified``: found in the cache already), or a reason."""
        if verified is not None:
            if self._wallclock() >= verified.not_after:
                return None, "expired_key"
            return verified, "ok"
        return self._verify(presented)

    def _verify(self, presented: str) -> tuple[_Entry | None, str]:
        """Check a key not verified since the last reload against its digest; remember it."""
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

    def _count_failure(self, caller: Caller, reason: str) -> None:
        """Count a failure towards the client's block, and say so when it blocks."""
        self.metrics.failures.labels(reason).inc()
        if self._failures.record_failure(caller.bucket):
            self.audit.emit(
                "auth.blocked",
                client=caller.client,
                seconds=self.settings.block_seconds,
                network=caller.network,
                via=caller.via,
            )

    def _denied(self, caller: Caller, entry: _Entry, reason: str, method: str, path: str) -> None:
        # client, key_id, reason in this order: the fail2ban filter reads the first three.
        self.audit.emit(
            "auth.denied",
            client=caller.client,
            key_id=entry.record.id,
            reason=reason,
            method=method,
            path=path,
            via=caller.via,
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

"""Key lifecycle operations (create, rotate, revoke, expiry report) used by the ``keys`` CLI."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .audit import AuditLog
from .errors import KeyStoreError
from .keys import KeyRecord, KeyState, format_key, new_key_id, new_secret, utcnow
from .network import AddressMatcher
from .rbac import RoleMap
from .store import KeyStore

__all__ = ["IssuedKey", "KeyManager"]


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A newly issued key: the record and the key string, shown once."""

    record: KeyRecord
    key: str


class KeyManager:
    """Changes the key store and writes the matching audit events."""

    def __init__(
        self,
        store: KeyStore,
        *,
        roles: RoleMap | None = None,
        audit: AuditLog | None = None,
        actor: str = "cli",
    ) -> None:
        self.store = store
        self.roles = roles or RoleMap()
        self.audit = audit or AuditLog("")
        self.actor = actor

    def _check(self, roles: Iterable[str], cidrs: Iterable[str]) -> None:
        roles = list(roles)
        if not roles:
            raise KeyStoreError("a key needs at least one role (--role)")
        unknown = self.roles.unknown(roles)
        if unknown:
            raise KeyStoreError(
                f"unknown role {unknown[0]!r}; known roles: {', '.join(sorted(self.roles.names))}"
            )
        try:
            AddressMatcher(cidrs)
        except ValueError as exc:
            raise KeyStoreError(str(exc)) from None

    def create(
        self,
        name: str,
        roles: Iterable[str],
        *,
        cidrs: Iterable[str] = (),
        models: Iterable[str] = (),
        days: float = 90,
        now: datetime | None = None,
    ) -> IssuedKey:
        """Issue a new key; the returned key string is not stored anywhere."""
        roles, cidrs, models = tuple(roles), tuple(cidrs), tuple(models)
        self._check(roles, cidrs)
        now = now or utcnow()
        with self.store.edit(create=True) as data:
            key_id = new_key_id()
            while key_id in data.records:
                key_id = new_key_id()
            secret = new_secret()
            record = KeyRecord(
                id=key_id,
                name=name,
                digest=self.store.hasher_for(data).digest(secret),
                roles=roles,
                cidrs=cidrs,
                models=models,
                created=now,
                expires=now + timedelta(days=days),
            )
            data.records[key_id] = record
        self.audit.emit("key.created", key_id=key_id, name=name, roles=list(roles), by=self.actor)
        return IssuedKey(record, format_key(key_id, secret))

    def _existing(self, data_records: dict[str, KeyRecord], key_id: str) -> KeyRecord:
        record = data_records.get(key_id)
        if record is None:
            raise KeyStoreError(f"no key with id {key_id!r} (see `openclaw-runtime keys list`)")
        return record

    def revoke(self, key_id: str, *, now: datetime | None = None) -> KeyRecord:
        """Revoke a key at once."""
        now = now or utcnow()
        with self.store.edit() as data:
            record = self._existing(data.records, key_id).with_changes(
                state=KeyState.REVOKED, revoked=now
            )
            data.records[key_id] = record
        self.audit.emit("key.revoked", key_id=key_id, name=record.name, by=self.actor)
        return record

    def rotate(
        self,
        key_id: str,
        *,
        grace_days: float = 7,
        days: float = 90,
        now: datetime | None = None,
    ) -> IssuedKey:
        """Issue a successor with the same roles and networks; the old key stays for the grace."""
        now = now or utcnow()
        with self.store.edit() as data:
            old = self._existing(data.records, key_id)
            if old.state is not KeyState.ACTIVE:
                raise KeyStoreError(f"key {key_id} is {old.state.value}; only active keys rotate")
            new_id = new_key_id()
            secret = new_secret()
            new = KeyRecord(
                id=new_id,
                name=old.name,
                digest=self.store.hasher_for(data).digest(secret),
                roles=old.roles,
                cidrs=old.cidrs,
                models=old.models,
                created=now,
                expires=now + timedelta(days=days),
            )
            data.records[new_id] = new
            data.records[key_id] = old.with_changes(
                state=KeyState.ROTATING,
                grace_until=now + timedelta(days=grace_days),
                replaced_by=new_id,
            )
        self.audit.emit(
            "key.rotated",
            key_id=key_id,
            new_key_id=new_id,
            grace_days=grace_days,
            by=self.actor,
        )
        return IssuedKey(new, format_key(new_id, secret))

    def expiring(self, within_days: float, *, now: datetime | None = None) -> list[KeyRecord]:
        """Return active keys that expire within ``within_days`` (already expired ones included).

        Rotating keys are left out: their successor exists and their end is planned.
        """
        now = now or utcnow()
        horizon = now + timedelta(days=within_days)
        self.store.load()
        return [
            r for r in self.store.records() if r.state is KeyState.ACTIVE and r.expires <= horizon
        ]

"""Key lifecycle: create, revoke, rotate with grace, expiry report, audit events."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from openclaw_runtime.auth import KeyState, KeyStoreError, parse_key
from openclaw_runtime.auth.keys import utcnow


def _events(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_create_returns_key_once_and_audits_without_it(manager, audit_path):
    issued = manager.create("ci", ["inference-client"], cidrs=["127.0.0.0/8"], models=["digits"])
    key_id, secret = parse_key(issued.key)
    assert key_id == issued.record.id
    assert manager.store.hasher.verify(secret, issued.record.digest)
    (event,) = _events(audit_path)
    assert event["event"] == "key.created" and event["key_id"] == key_id
    assert secret not in audit_path.read_text()


def test_create_refuses_unknown_role_and_bad_cidr(manager):
    with pytest.raises(KeyStoreError, match="unknown role 'root'"):
        manager.create("x", ["root"])
    with pytest.raises(KeyStoreError, match="invalid network"):
        manager.create("x", ["observer"], cidrs=["10.0.0.0/99"])
    with pytest.raises(KeyStoreError, match="at least one role"):
        manager.create("x", [])


def test_revoke(manager, audit_path):
    issued = manager.create("ci", ["observer"])
    record = manager.revoke(issued.record.id)
    assert record.state is KeyState.REVOKED
    assert manager.store.get(issued.record.id).state is KeyState.REVOKED
    assert _events(audit_path)[-1]["event"] == "key.revoked"
    with pytest.raises(KeyStoreError, match="no key with id"):
        manager.revoke("ffffffffffffffff")


def test_rotate_keeps_old_key_for_grace_period(manager, audit_path):
    now = utcnow()
    old = manager.create("ci", ["inference-client"], cidrs=["10.0.0.0/8"], now=now)
    new = manager.rotate(old.record.id, grace_days=7, now=now)
    old_rec = manager.store.get(old.record.id)
    assert old_rec.state is KeyState.ROTATING and old_rec.replaced_by == new.record.id
    assert old_rec.valid_at(now + timedelta(days=6, hours=23))
    assert not old_rec.valid_at(now + timedelta(days=7))
    assert new.record.roles == old.record.roles and new.record.cidrs == old.record.cidrs
    assert new.record.valid_at(now + timedelta(days=89))
    assert _events(audit_path)[-1]["event"] == "key.rotated"
    with pytest.raises(KeyStoreError, match="only active keys rotate"):
        manager.rotate(old.record.id)


def test_expiring_lists_active_keys_within_horizon(manager):
    now = utcnow()
    soon = manager.create("soon", ["observer"], days=5, now=now)
    manager.create("later", ["observer"], days=60, now=now)
    gone = manager.create("gone", ["observer"], days=1, now=now)
    manager.revoke(gone.record.id)
    rotated = manager.create("rotated", ["observer"], days=3, now=now)
    manager.rotate(rotated.record.id, now=now)
    names = [r.name for r in manager.expiring(14, now=now)]
    assert names == ["soon"]
    assert soon.record.id in {r.id for r in manager.expiring(14, now=now + timedelta(days=30))}

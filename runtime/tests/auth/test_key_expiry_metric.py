"""The key-expiry gauge: each active key's expiry, 0 once it rotates, is revoked or removed."""

from __future__ import annotations

from prometheus_client import REGISTRY

from openclaw_runtime.auth import Authenticator, AuthSettings, KeyStore

NAME = "openclaw_auth_key_expiry_timestamp_seconds"


def _expiry(key_id: str) -> float | None:
    return REGISTRY.get_sample_value(NAME, {"key_id": key_id})


def test_active_keys_publish_their_expiry_and_others_read_zero(manager, fernet_key):
    short = manager.create("ci", ["inference-client"], days=3)
    long = manager.create("ops", ["admin"], days=90)
    reader = KeyStore(manager.store.path, fernet_key)
    reader.load()
    auth = Authenticator(AuthSettings(audit_log=""), reader)
    assert _expiry(short.record.id) == short.record.expires.timestamp()
    assert _expiry(long.record.id) == long.record.expires.timestamp()

    # Rotating: the old key's grace ends by design, its successor is the one to watch.
    successor = manager.rotate(short.record.id, grace_days=7)
    manager.revoke(long.record.id)
    assert auth.maybe_reload()
    assert _expiry(short.record.id) == 0
    assert _expiry(long.record.id) == 0
    assert _expiry(successor.record.id) == successor.record.expires.timestamp()

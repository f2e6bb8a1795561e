"""Key material: entropy, format, keyed hashing, record round trip and validity."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from openclaw_runtime.auth import KeyHasher, KeyRecord, KeyState, format_key, parse_key
from openclaw_runtime.auth.keys import new_key_id, new_secret, utcnow


def test_secret_has_256_bits_and_keys_differ():
    secrets = {new_secret() for _ in range(200)}
    assert len(secrets) == 200
    raw = base64.urlsafe_b64decode(next(iter(secrets)) + "=")
    assert len(raw) * 8 >= 256


def test_format_and_parse_round_trip():
    key_id, secret = new_key_id(), new_secret()
    assert parse_key(format_key(key_id, secret)) == (key_id, secret)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "oc_",
        "Bearer x",
        "oc_zzzzzzzzzzzzzzzz_" + "a" * 43,
        "oc_0123456789abcdef_short",
    ],
)
def test_parse_rejects_malformed(text):
    assert parse_key(text) is None


def test_hmac_depends_on_server_secret_and_verifies():
    a = KeyHasher(b"a" * 32)
    b = KeyHasher(b"b" * 32)
    digest = a.digest("s3cret")
    assert digest != b.digest("s3cret")
    assert "s3cret" not in digest
    assert a.verify("s3cret", digest)
    assert not a.verify("s3cret!", digest)
    assert not b.verify("s3cret", digest)


def test_short_server_secret_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        KeyHasher(b"short")


def test_record_round_trip_and_public_view_hides_digest():
    now = utcnow()
    record = KeyRecord(
        "0123456789abcdef",
        "ci",
        "ab" * 32,
        ("observer",),
        ("10.0.0.0/8",),
        ("digits",),
        now,
        now + timedelta(days=90),
    )
    again = KeyRecord.from_dict(record.to_dict())
    assert again == record
    assert "digest" not in record.public_dict()


def test_default_lifetime_is_90_days():
    record = KeyRecord("0123456789abcdef", "x", "0" * 64, ("observer",))
    assert record.expires - record.created == timedelta(days=90)


def test_validity_expiry_revocation_and_rotation_grace():
    now = utcnow()
    record = KeyRecord(
        "0123456789abcdef",
        "x",
        "0" * 64,
        ("observer",),
        created=now,
        expires=now + timedelta(days=1),
    )
    assert record.valid_at(now)
    assert not record.valid_at(now + timedelta(days=1))
    assert not record.with_changes(state=KeyState.REVOKED).valid_at(now)
    rotating = record.with_changes(state=KeyState.ROTATING, grace_until=now + timedelta(hours=1))
    assert rotating.valid_at(now + timedelta(minutes=59))
    assert not rotating.valid_at(now + timedelta(hours=1))
    assert rotating.effective_expiry() == now + timedelta(hours=1)

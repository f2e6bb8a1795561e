"""The authenticator: headers, 401/403/429 decisions, model restrictions, audit lines."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet

from openclaw_runtime.auth import (
    AuditLog,
    Authenticator,
    AuthSettings,
    KeyStore,
    KeyStoreError,
    RateLimited,
)
from openclaw_runtime.auth.keys import utcnow
from openclaw_runtime.errors import Forbidden, Unauthorized

INFER = ("POST", "/v2/models/digits/infer")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make_auth(store, audit_path):
    def make(**overrides):
        store.load()
        settings = AuthSettings(**{"audit_log": str(audit_path), **overrides})
        return Authenticator(settings, store, audit=AuditLog(str(audit_path)), clock=Clock())

    return make


def _call(
    auth,
    key=None,
    *,
    method="POST",
    path="/v2/models/digits/infer",
    peer="127.0.0.1",
    xff=None,
    header="bearer",
):
    authorization = f"Bearer {key}" if key and header == "bearer" else None
    api_key = key if header == "x-api-key" else None
    return auth.authorize(
        method,
        path,
        authorization=authorization,
        api_key=api_key,
        peer=peer,
        forwarded_for=xff,
    )


def _events(path, name=None):
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    return [e for e in lines if name is None or e["event"] == name]


def test_valid_key_both_headers(manager, make_auth):
    key = manager.create("ci", ["inference-client"]).key
    auth = make_auth()
    assert _call(auth, key).name == "ci"
    assert _call(auth, key, header="x-api-key").permissions == {
        "model:infer",
        "model:read",
    }


def test_health_needs_nothing(make_auth, manager):
    manager.create("x", ["observer"])
    assert _call(make_auth(), None, method="GET", path="/v2/health/ready") is None


def test_same_message_for_missing_unknown_wrong_expired_revoked(manager, make_auth, audit_path):
    good = manager.create("ok", ["inference-client"])
    revoked = manager.create("rev", ["inference-client"])
    manager.revoke(revoked.record.id)
    expired = manager.create("old", ["inference-client"], now=utcnow() - timedelta(days=91))
    auth = make_auth(max_failures=0)
    wrong_secret = good.key[:-1] + ("A" if good.key[-1] != "A" else "B")
    unknown_id = "oc_" + "f" * 16 + good.key[19:]
    messages = set()
    for key in (None, "garbage", wrong_secret, unknown_id, revoked.key, expired.key):
        with pytest.raises(Unauthorized) as info:
            _call(auth, key)
        messages.add(info.value.message)
    assert len(messages) == 1
    reasons = [e["reason"] for e in _events(audit_path, "auth.failed")]
    assert reasons == [
        "malformed_key",
        "invalid_key",
        "invalid_key",
        "revoked_key",
        "expired_key",
    ]
    assert good.key not in audit_path.read_text()


def test_permission_denied_is_403_and_audited(manager, make_auth, audit_path):
    key = manager.create("obs", ["observer"]).key
    auth = make_auth()
    with pytest.raises(Forbidden, match="model:infer"):
        _call(auth, key)
    assert _call(auth, key, method="GET", path="/metrics").name == "obs"
    (event,) = _events(audit_path, "auth.denied")
    assert event["client"] == "127.0.0.1" and event["reason"] == "missing permission model:infer"


def test_model_restriction(manager, make_auth):
    key = manager.create("d", ["inference-client"], models=["digits"]).key
    auth = make_auth()
    assert _call(auth, key)
    with pytest.raises(Forbidden, match="model 'other'"):
        _call(auth, key, path="/v2/models/other/infer")


def test_cidr_allow_list_and_trusted_proxy(manager, make_auth):
    key = manager.create("lan", ["inference-client"], cidrs=["127.0.0.2/32"]).key
    auth = make_auth(trusted_proxies=("10.0.0.1",))
    assert _call(auth, key, peer="127.0.0.2")
    assert _call(auth, key, peer="::ffff:127.0.0.2")
    with pytest.raises(Forbidden, match="address"):
        _call(auth, key, peer="127.0.0.1")
    assert _call(auth, key, peer="10.0.0.1", xff="127.0.0.2")
    with pytest.raises(Forbidden):
        _call(auth, key, peer="127.0.0.1", xff="127.0.0.2")  # not a trusted proxy


def test_failed_auth_cap_blocks_address_with_retry_after(manager, make_auth, audit_path):
    key = manager.create("ok", ["inference-client"]).key
    auth = make_auth(max_failures=3, block_seconds=120)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            _call(auth, "oc_" + "0" * 16 + "_" + "A" * 43, peer="192.0.2.1")
    with pytest.raises(RateLimited) as info:
        _call(auth, key, peer="192.0.2.1")  # even a good key from a blocked address
    assert info.value.retry_after == pytest.approx(120)
    assert _call(auth, key, peer="192.0.2.2")
    assert _events(audit_path, "auth.blocked")[0]["client"] == "192.0.2.1"


def test_per_key_and_per_address_rate_limits(manager, make_auth):
    key = manager.create("ok", ["inference-client"]).key
    auth = make_auth(key_rate_per_second=1, key_burst=2)
    _call(auth, key)
    _call(auth, key)
    with pytest.raises(RateLimited, match="API key") as info:
        _call(auth, key)
    assert info.value.retry_after > 0
    auth = make_auth(address_rate_per_second=1, address_burst=1)
    _call(auth, key)
    with pytest.raises(RateLimited, match="address"):
        _call(auth, key)


def test_a_granted_key_is_still_blocked_after_failures_from_its_address(manager, make_auth):
    key = manager.create("ok", ["inference-client"]).key
    auth = make_auth(max_failures=2, block_seconds=60)
    assert _call(auth, key, peer="192.0.2.7")  # granted: the repeat takes the short path
    for _ in range(2):
        with pytest.raises(Unauthorized):
            _call(auth, "oc_" + "0" * 16 + "_" + "A" * 43, peer="192.0.2.7")
    with pytest.raises(RateLimited):
        _call(auth, key, peer="192.0.2.7")


def test_a_granted_key_expires_on_time(manager, store, audit_path):
    issued = manager.create("soon", ["inference-client"])
    store.load()
    wall = Clock()
    wall.now = utcnow().timestamp()
    auth = Authenticator(
        AuthSettings(audit_log=str(audit_path)),
        store,
        audit=AuditLog(str(audit_path)),
        wallclock=wall,
    )
    assert _call(auth, issued.key) and _call(auth, issued.key)
    wall.now = issued.record.effective_expiry().timestamp() + 1
    with pytest.raises(Unauthorized):
        _call(auth, issued.key)
    assert [e["reason"] for e in _events(audit_path, "auth.failed")] == ["expired_key"]


def test_reload_picks_up_new_and_revoked_keys(manager, make_auth, fernet_key):
    first = manager.create("one", ["inference-client"])
    reader = KeyStore(manager.store.path, fernet_key)
    reader.load()
    auth = Authenticator(AuthSettings(audit_log=""), reader)
    assert _call(auth, first.key)
    second = manager.create("two", ["inference-client"])
    with pytest.raises(Unauthorized):
        _call(auth, second.key)
    manager.revoke(first.record.id)
    assert auth.maybe_reload()
    assert _call(auth, second.key)
    with pytest.raises(Unauthorized):
        _call(auth, first.key)


def test_rotated_key_works_during_grace(manager, make_auth):
    old = manager.create("ci", ["inference-client"])
    new = manager.rotate(old.record.id, grace_days=7)
    auth = make_auth()
    assert _call(auth, old.key) and _call(auth, new.key)
    ended = manager.rotate(new.record.id, grace_days=0)
    auth = make_auth()
    with pytest.raises(Unauthorized):
        _call(auth, new.key)
    assert _call(auth, ended.key)


def test_from_settings_refuses_undecryptable_store(manager, tmp_path):
    manager.create("x", ["observer"])
    settings = AuthSettings(key_store=str(manager.store.path))
    with pytest.raises(KeyStoreError, match="cannot decrypt"):
        Authenticator.from_settings(
            settings, env={"OPENCLAW_KEY_STORE_KEY": Fernet.generate_key().decode()}
        )


def test_requests_without_key_count_towards_the_cap(manager, make_auth, audit_path):
    manager.create("ok", ["inference-client"])
    auth = make_auth(max_failures=3)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            _call(auth, None, peer="192.0.2.3")
    with pytest.raises(RateLimited):
        _call(auth, None, peer="192.0.2.3")
    assert len(_events(audit_path, "auth.missing")) == 3  # the block bounds the trail
    assert _events(audit_path, "auth.failed") == []  # fail2ban does not ban for these


def test_refusals_are_counted_by_reason(manager, make_auth):
    from openclaw_runtime.auth.metrics import auth_metrics

    before = auth_metrics().unauthorized._value.get()
    forbidden = auth_metrics().forbidden._value.get()
    key = manager.create("obs", ["observer"]).key
    auth = make_auth()
    with pytest.raises(Unauthorized):
        _call(auth, None, peer="192.0.2.40")
    with pytest.raises(Forbidden):
        _call(auth, key)
    assert auth_metrics().unauthorized._value.get() == before + 1
    assert auth_metrics().forbidden._value.get() == forbidden + 1


def _memo_entries(auth) -> int:
    """Grants memoised across all keys (the memo lives in each key's entry)."""
    return sum(len(entry.granted) for entry in auth._entries.values())


def test_memo_keys_on_the_caller_not_on_header_text(manager, make_auth):
    key = manager.create("ci", ["inference-client"]).key
    auth = make_auth()
    # 3000 distinct header spellings of one key from one address, for one endpoint: the
    # X-API-Key beside a valid Bearer, the scheme's case, padding, an X-Forwarded-For that
    # nobody trusts (each up to 16 KiB, which the old memo kept as its key).
    for i in range(1000):
        junk = "x" * (i + 1) * 16
        assert auth.authorize(
            "POST", INFER[1], authorization=f"Bearer {key}", api_key=junk, peer="192.0.2.1"
        )
        assert auth.authorize(
            "POST",
            INFER[1],
            authorization=f"{'bEaReR' if i % 2 else 'bearer'} {key}{' ' * i}",
            api_key=None,
            peer="192.0.2.1",
            forwarded_for=junk,
        )
        assert auth.authorize(
            "POST", INFER[1], authorization=junk, api_key=f"{' ' * i}{key}", peer="192.0.2.1"
        )
    assert _memo_entries(auth) == 1


def test_memo_is_bounded_per_key_and_one_key_never_evicts_another(manager, make_auth):
    legit = manager.create("shop", ["inference-client"]).key
    attacker = manager.create("leaked", ["inference-client"]).key
    auth = make_auth(key_rate_per_second=0)
    assert _call(auth, legit, peer="192.0.2.10")
    # One key from 5000 addresses of its /64 and for 5000 made-up models: every request is
    # a distinct (client, permission, model).
    for i in range(5000):
        assert _call(auth, attacker, peer=f"2001:db8::{i:x}", path=f"/v2/models/m{i}/infer")
    assert _memo_entries(auth) <= 64 + 1
    (shop,) = [e for e in auth._entries.values() if e.record.name == "shop"]
    assert ("192.0.2.10", "model:infer", "digits") in shop.granted  # never cleared for it


def test_memo_does_not_carry_a_grant_to_another_address_or_endpoint(manager, make_auth):
    key = manager.create("lan", ["observer"], cidrs=["192.0.2.0/24"]).key
    auth = make_auth()
    assert _call(auth, key, method="GET", path="/metrics", peer="192.0.2.5")
    with pytest.raises(Forbidden, match="address"):
        _call(auth, key, method="GET", path="/metrics", peer="198.51.100.5")
    with pytest.raises(Forbidden, match="model:read"):
        _call(auth, key, method="GET", path="/v2", peer="192.0.2.5")


def test_ipv6_clients_are_limited_per_64_and_ipv4_per_address(manager, make_auth):
    key = manager.create("ok", ["inference-client"]).key
    auth = make_auth(address_rate_per_second=1, address_burst=1)
    assert _call(auth, key, peer="2001:db8:1:2::1")
    with pytest.raises(RateLimited, match="address"):
        _call(auth, key, peer="2001:db8:1:2:ffff::9")  # same /64
    assert _call(auth, key, peer="2001:db8:1:3::1")  # the next /64
    assert _call(auth, key, peer="192.0.2.1")
    assert _call(auth, key, peer="192.0.2.2")


def test_ipv6_failures_block_the_whole_64(manager, make_auth, audit_path):
    key = manager.create("ok", ["inference-client"]).key
    auth = make_auth(max_failures=2, block_seconds=60)
    bad = "oc_" + "0" * 16 + "_" + "A" * 43
    for peer in ("2001:db8:5:6::1", "2001:db8:5:6::2"):
        with pytest.raises(Unauthorized):
            _call(auth, bad, peer=peer)
    with pytest.raises(RateLimited, match="failed"):
        _call(auth, key, peer="2001:db8:5:6:abcd::3")
    assert _call(auth, key, peer="2001:db8:5:7::1")
    (blocked,) = _events(audit_path, "auth.blocked")
    assert blocked["client"] == "2001:db8:5:6::2"  # the address, for fail2ban and people
    assert blocked["network"] == "2001:db8:5:6::/64"
    assert [e["client"] for e in _events(audit_path, "auth.failed")] == [
        "2001:db8:5:6::1",
        "2001:db8:5:6::2",
    ]


def test_address_not_allowed_counts_as_a_failure(manager, make_auth, audit_path):
    from openclaw_runtime.auth.metrics import auth_metrics

    failures = auth_metrics().failures.labels("address_not_allowed")
    before = failures._value.get()
    key = manager.create("lan", ["inference-client"], cidrs=["127.0.0.2/32"]).key
    auth = make_auth(max_failures=3, block_seconds=60)
    for _ in range(3):
        with pytest.raises(Forbidden, match="address"):
            _call(auth, key, peer="192.0.2.9")
    with pytest.raises(RateLimited) as info:
        _call(auth, key, peer="192.0.2.9")
    assert info.value.retry_after == pytest.approx(60)
    assert _call(auth, key, peer="127.0.0.2")  # the key itself still works where allowed
    assert failures._value.get() == before + 3
    denied = _events(audit_path, "auth.denied")
    assert [(e["client"], e["reason"]) for e in denied] == [
        ("192.0.2.9", "address not allowed")
    ] * 3
    assert _events(audit_path, "auth.blocked")[0]["client"] == "192.0.2.9"


def test_a_trusted_proxy_is_never_the_audited_client(manager, make_auth, audit_path):
    manager.create("other", ["observer"])
    auth = make_auth(trusted_proxies=("10.0.0.0/29",), max_failures=0)
    bad = "oc_" + "0" * 16 + "_" + "A" * 43
    cases = [
        (None, "unknown", "10.0.0.5"),  # the proxy's own request
        ("10.0.0.6", "unknown", "10.0.0.6"),  # a chain of trusted proxies only
        ("10.0.0.5, junk", "unknown", None),  # a hop that is no address
        ("198.51.100.7, 203.0.113.9", "203.0.113.9", None),  # forged first line
        ("203.0.113.9, 10.0.0.6", "203.0.113.9", None),  # behind two proxies
    ]
    for xff, _, _ in cases:
        with pytest.raises(Unauthorized):
            _call(auth, bad, peer="10.0.0.5", xff=xff)
        with pytest.raises(Unauthorized):
            _call(auth, None, peer="10.0.0.5", xff=xff)
    failed = _events(audit_path, "auth.failed")
    missing = _events(audit_path, "auth.missing")
    expected = [(client, via) for _, client, via in cases]
    assert [(e["client"], e.get("via")) for e in failed] == expected
    assert [(e["client"], e.get("via")) for e in missing] == expected

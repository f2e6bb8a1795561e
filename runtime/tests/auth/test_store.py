"""The encrypted key store: encryption at rest, wrong keys, reload on change, key sources."""

from __future__ import annotations

import json
import os

import pytest
from cryptography.fernet import Fernet

from openclaw_runtime.auth import KEY_ENV, KeyStore, KeyStoreError, load_fernet_key, parse_key


def test_store_is_encrypted_and_holds_no_key(manager, store):
    issued = manager.create("ci", ["inference-client"])
    raw = store.path.read_bytes()
    _, secret = parse_key(issued.key)
    assert secret.encode() not in raw
    assert b"inference-client" not in raw  # encrypted, not just encoded
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"


def test_wrong_fernet_key_refuses_with_clear_message(manager, store):
    manager.create("ci", ["observer"])
    other = KeyStore(store.path, Fernet.generate_key())
    with pytest.raises(KeyStoreError, match=r"cannot decrypt key store .*Fernet key"):
        other.load()


def test_missing_store_says_how_to_create_it(tmp_path, fernet_key):
    with pytest.raises(KeyStoreError, match="keys create"):
        KeyStore(tmp_path / "absent", fernet_key).load()


def test_damaged_store_refused(store, manager, fernet_key):
    manager.create("ci", ["observer"])
    store.path.write_bytes(b"garbage")
    with pytest.raises(KeyStoreError, match="cannot decrypt"):
        KeyStore(store.path, fernet_key).load()


def test_reload_on_change_and_keep_old_keys_on_bad_file(tmp_path, fernet_key, manager, caplog):
    first = manager.create("one", ["observer"])
    reader = KeyStore(manager.store.path, fernet_key)
    reader.load()
    assert not reader.maybe_reload()
    second = manager.create("two", ["observer"])
    assert reader.maybe_reload()
    assert {r.id for r in reader.records()} == {first.record.id, second.record.id}
    # A corrupt replacement is not installed; the loaded keys stay.
    bad = tmp_path / "bad"
    bad.write_bytes(b"not a fernet token")
    os.replace(bad, manager.store.path)
    assert not reader.maybe_reload()
    assert "reload failed" in caplog.text
    assert len(reader.records()) == 2
    assert not reader.maybe_reload()  # logged once per change, not on every poll


def test_fernet_key_from_file_or_env(tmp_path):
    key = Fernet.generate_key()
    path = tmp_path / "fernet.key"
    path.write_bytes(key + b"\n")
    assert load_fernet_key(str(path), env={}) == key
    assert load_fernet_key("", env={KEY_ENV: key.decode()}) == key
    with pytest.raises(KeyStoreError, match=KEY_ENV):
        load_fernet_key("", env={})
    with pytest.raises(KeyStoreError, match="not a Fernet key"):
        load_fernet_key("", env={KEY_ENV: "short"})
    with pytest.raises(KeyStoreError, match="cannot read"):
        load_fernet_key(str(tmp_path / "missing"), env={})


def test_decrypted_document_shape(store, manager, fernet_key):
    manager.create("ci", ["observer"], cidrs=["10.0.0.0/8"])
    doc = json.loads(Fernet(fernet_key).decrypt(store.path.read_bytes()))
    assert doc["format"] == 1
    (key,) = doc["keys"]
    assert key["cidrs"] == ["10.0.0.0/8"] and len(key["digest"]) == 64


def test_loose_key_file_permissions_warn(tmp_path, caplog):
    path = tmp_path / "fernet.key"
    path.write_bytes(Fernet.generate_key())
    path.chmod(0o644)
    load_fernet_key(str(path), env={})
    assert "chmod 0400" in caplog.text
    caplog.clear()
    path.chmod(0o400)
    load_fernet_key(str(path), env={})
    assert "chmod" not in caplog.text

"""Fixtures for the auth unit tests: a fresh encrypted key store in a temporary directory."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from openclaw_runtime.auth import AuditLog, KeyManager, KeyStore


@pytest.fixture
def fernet_key() -> bytes:
    return Fernet.generate_key()


@pytest.fixture
def store(tmp_path, fernet_key) -> KeyStore:
    return KeyStore(tmp_path / "keys.store", fernet_key)


@pytest.fixture
def audit_path(tmp_path):
    return tmp_path / "audit.log"


@pytest.fixture
def manager(store, audit_path) -> KeyManager:
    return KeyManager(store, audit=AuditLog(str(audit_path)))

"""The key store: a JSON document encrypted at rest with Fernet, reloaded when it changes.

The document holds the server secret for the keyed hash and the key records;
its Fernet key comes from a file (``auth.key_store_key_file``) or from the
environment variable ``OPENCLAW_KEY_STORE_KEY`` and is never written anywhere
by the runtime. Writers (the ``keys`` CLI) take an exclusive ``flock`` on
``<store>.lock`` and replace the file atomically, so a server polling it only
ever sees complete versions.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import KeyStoreError
from .keys import KeyHasher, KeyRecord

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

__all__ = ["KEY_ENV", "KeyStore", "StoreData", "load_fernet_key"]

KEY_ENV = "OPENCLAW_KEY_STORE_KEY"
_FORMAT = 1
_log = logging.getLogger("openclaw_runtime.auth")


def _fernet(key: bytes) -> Fernet:
    # cryptography (with its own OpenSSL) adds about 7 MB to a process: imported only
    # where a key store is used, not by workers running with auth off.
    from cryptography.fernet import Fernet

    return Fernet(key)


def load_fernet_key(key_file: str = "", env: Mapping[str, str] | None = None) -> bytes:
    """Return the Fernet key from ``key_file`` if set, else from ``$OPENCLAW_KEY_STORE_KEY``."""
    env = os.environ if env is None else env
    if key_file:
        try:
            raw = Path(key_file).read_bytes().strip()
        except OSError as exc:
            raise KeyStoreError(
                f"auth.key_store_key_file: cannot read {key_file!r}: {exc.strerror}"
            ) from exc
        source = f"auth.key_store_key_file ({key_file})"
        mode = Path(key_file).stat().st_mode
        if mode & 0o077:
            _log.warning(
                "%s is readable by group or others (mode %s); chmod 0400 it",
                key_file,
                oct(mode & 0o777),
            )
    elif env.get(KEY_ENV):
        raw = env[KEY_ENV].strip().encode()
        source = KEY_ENV
    else:
        raise KeyStoreError(
            "no key store encryption key: set auth.key_store_key_file to a file holding a "
            f"Fernet key, or the environment variable {KEY_ENV}; create one with "
            "`openclaw-runtime keys generate-store-key`"
        )
    try:
        _fernet(raw)
    except ValueError:
        raise KeyStoreError(
            f"{source}: not a Fernet key (expected 32 bytes, URL-safe base64, 44 characters)"
        ) from None
    return raw


class StoreData:
    """The decrypted content: server secret and records by id."""

    __slots__ = ("records", "secret")

    def __init__(self, secret: bytes, records: dict[str, KeyRecord]) -> None:
        self.secret = secret
        self.records = records

    @classmethod
    def empty(cls) -> StoreData:
        """Return a new store with a fresh 256-bit server secret and no keys."""
        return cls(secrets.token_bytes(32), {})

    def to_json(self) -> bytes:
        """Serialize for encryption."""
        doc = {
            "format": _FORMAT,
            "secret": base64.b64encode(self.secret).decode(),
            "keys": [r.to_dict() for r in self.records.values()],
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> StoreData:
        """Parse decrypted content."""
        doc: dict[str, Any] = json.loads(raw)
        if doc.get("format") != _FORMAT:
            raise ValueError(f"unsupported key store format {doc.get('format')!r}")
        records = [KeyRecord.from_dict(item) for item in doc.get("keys", [])]
        return cls(base64.b64decode(doc["secret"]), {r.id: r for r in records})


class KeyStore:
    """An encrypted key store file; readers call :meth:`maybe_reload`, writers :meth:`edit`."""

    def __init__(self, path: str | os.PathLike[str], fernet_key: bytes) -> None:
        self.path = Path(path)
        self._fernet = _fernet(fernet_key)
        self._data: StoreData | None = None
        self._hasher: KeyHasher | None = None
        self._stamp: tuple[int, int, int] | None = None

    # --- reading ---------------------------------------------------------------

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read(self) -> StoreData:
        from cryptography.fernet import InvalidToken

        try:
            token = self.path.read_bytes()
        except FileNotFoundError:
            raise KeyStoreError(
                f"key store {str(self.path)!r} does not exist; create the first key with "
                "`openclaw-runtime keys create --name admin --role admin`"
            ) from None
        except OSError as exc:
            raise KeyStoreError(
                f"cannot read key store {str(self.path)!r}: {exc.strerror}"
            ) from exc
        try:
            raw = self._fernet.decrypt(token)
        except InvalidToken:
            raise KeyStoreError(
                f"cannot decrypt key store {str(self.path)!r}: the Fernet key does not match "
                f"(check auth.key_store_key_file or {KEY_ENV}) or the file is damaged"
            ) from None
        try:
            return StoreData.from_json(raw)
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"key store {str(self.path)!r} is malformed: {exc}") from exc

    def load(self) -> None:
        """Read and decrypt the store; raise :class:`KeyStoreError` saying why if impossible."""
        stamp = self._stat()
        data = self._read()
        self._install(data, stamp)

    def _install(self, data: StoreData, stamp: tuple[int, int, int] | None) -> None:
        self._data = data
        self._hasher = KeyHasher(data.secret)
        self._stamp = stamp

    def changed(self) -> bool:
        """Return True when the file differs (inode, mtime, size) from the version loaded."""
        return self._stat() != self._stamp

    def maybe_reload(self) -> bool:
        """Reload when the file changed; keep the old keys (and log) if the new file is unusable."""
        if not self.changed():
            return False
        return self.reload()

    def reload(self) -> bool:
        """Reload now (SIGHUP); return True when new content was installed."""
        stamp = self._stat()
        try:
            data = self._read()
        except KeyStoreError as exc:
            _log.error("key store reload failed, keeping the keys loaded before: %s", exc)
            self._stamp = stamp  # do not retry (and log) until the file changes again
            return False
        self._install(data, stamp)
        _log.info("key store reloaded: %d keys", len(data.records))
        return True

    @property
    def loaded(self) -> bool:
        """Return True once a version of the store is installed."""
        return self._data is not None

    @property
    def hasher(self) -> KeyHasher:
        """Return the keyed hash of the loaded store."""
        if self._hasher is None:
            raise KeyStoreError("key store not loaded")
        return self._hasher

    @staticmethod
    def hasher_for(data: StoreData) -> KeyHasher:
        """Return the keyed hash for ``data`` (inside :meth:`edit`)."""
        return KeyHasher(data.secret)

    def get(self, key_id: str) -> KeyRecord | None:
        """Return the record with ``key_id``, if any."""
        return self._data.records.get(key_id) if self._data else None

    def records(self) -> list[KeyRecord]:
        """Return every record, oldest first."""
        if self._data is None:
            return []
        return sorted(self._data.records.values(), key=lambda r: (r.created, r.id))

    # --- writing ---------------------------------------------------------------

    @contextlib.contextmanager
    def edit(self, *, create: bool = False) -> Iterator[StoreData]:
        """Lock, re-read, yield the data to change in place, then write it atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if create and not self.path.exists():
                data = StoreData.empty()
            else:
                data = self._read()
            yield data
            self._write(data)
            self._install(data, self._stat())

    def _write(self, data: StoreData) -> None:
        token = self._fernet.encrypt(data.to_json())
        try:
            old = self.path.stat()
        except FileNotFoundError:
            old = None
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(token)
                fh.flush()
                os.fsync(fh.fileno())
            # Keep mode and owner of the existing file (the server may run as another user).
            os.chmod(tmp, (old.st_mode & 0o777) if old else 0o600)
            if old is not None and os.geteuid() == 0:
                os.chown(tmp, old.st_uid, old.st_gid)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

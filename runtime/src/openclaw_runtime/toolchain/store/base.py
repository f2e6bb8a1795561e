"""The interface every model store client implements.

Keys are ``/``-separated paths relative to the store's base URL
(``digits/2/model.onnx``). Clients move bytes only; checksums, size bounds,
resumption and atomic installation live in :mod:`..transfer`, once for all.
"""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..errors import TransferError, UsageError

__all__ = ["CHUNK", "Download", "Store", "check_key", "redact_url", "refuse_userinfo"]

CHUNK = 1 << 20


def check_key(key: str) -> str:
    """Refuse keys that could escape the target directory (``..``, absolute, empty parts)."""
    norm = posixpath.normpath(key)
    if key.startswith("/") or norm.startswith("..") or norm != key or "\\" in key or not key:
        raise TransferError(f"refusing unsafe path {key!r} from the store")
    return key


def redact_url(url: str) -> str:
    """Return ``url`` for messages: any ``user:password@`` part replaced by ``***@``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def refuse_userinfo(url: str) -> None:
    """Refuse a store URL carrying ``user:password@``, naming it without the password."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError as exc:
        raise UsageError(f"the store URL is not a valid URL ({exc})") from None
    if "@" in netloc:
        raise UsageError(
            f"{redact_url(url)}: a store URL must not carry user:password@ (it would show in "
            "process lists, shell history and logs); the http(s) store sends no credentials, "
            "so serve it without them to the hosts that fetch, or use s3:// or oss://, "
            "whose credentials come from the environment"
        )


class Download:
    """An open byte stream of one object, starting at ``offset``; ``total`` is the full size."""

    def __init__(
        self, chunks: Iterator[bytes], *, offset: int, total: int | None, close=None
    ) -> None:
        self.chunks = chunks
        self.offset = offset
        self.total = total
        self._close = close

    def close(self) -> None:
        """Release the connection."""
        if self._close is not None:
            self._close()


class Store(ABC):
    """A place models are published to and fetched from."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        netloc = parts.netloc.rpartition("@")[2]
        self.public_url = urlunsplit(parts._replace(netloc=netloc))

    def describe(self, key: str) -> str:
        """Return the URL of ``key`` for messages, without any user:password part."""
        return f"{self.public_url}/{key}"

    @abstractmethod
    def open(self, key: str, offset: int = 0) -> Download:
        """Open ``key`` for reading from byte ``offset`` (the store may restart at 0)."""

    @abstractmethod
    def put(self, key: str, source: Path) -> None:
        """Upload ``source`` as ``key``, replacing it atomically where the store can."""

    def read(self, key: str, limit: int) -> bytes:
        """Return a small object whole, refusing more than ``limit`` bytes."""
        download = self.open(key)
        try:
            data = bytearray()
            for chunk in download.chunks:
                data += chunk
                if len(data) > limit:
                    raise TransferError(f"{self.describe(key)}: larger than {limit} bytes")
            return bytes(data)
        finally:
            download.close()

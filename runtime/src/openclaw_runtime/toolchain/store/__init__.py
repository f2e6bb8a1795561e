"""Model store clients: ``file://``, ``http(s)://``, ``s3://`` and ``oss://``."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import UsageError
from .base import Download, Store, refuse_userinfo

__all__ = ["Download", "Store", "open_store"]


def open_store(url: str) -> Store:
    """Return the client for a store URL, chosen by its scheme."""
    refuse_userinfo(url)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        from .file import FileStore

        return FileStore(url)
    if scheme in ("http", "https"):
        from .http import HttpStore

        return HttpStore(url)
    if scheme in ("s3", "oss"):
        from .s3 import S3Store

        return S3Store(url)
    raise UsageError(f"{url!r}: unsupported store URL; use file://, http(s)://, s3:// or oss://")

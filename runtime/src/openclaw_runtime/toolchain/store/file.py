"""A model store in a local or mounted directory (``file:///srv/models``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import TransferError
from .base import CHUNK, Download, Store, check_key

__all__ = ["FileStore"]


class FileStore(Store):
    """Reads and writes ``<dir>/<key>``; uploads are copied to a temporary name, then renamed."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise TransferError(f"{url}: file:// URLs must be local (file:///path)")
        self.root = Path(unquote(parts.path))

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def open(self, key: str, offset: int = 0) -> Download:
        """Open the file at ``offset``."""
        path = self._path(key)
        try:
            fh = path.open("rb")
        except FileNotFoundError as exc:
            raise TransferError(f"{self.describe(key)}: not found") from exc
        total = os.fstat(fh.fileno()).st_size
        offset = min(offset, total)
        fh.seek(offset)
        return Download(
            iter(lambda: fh.read(CHUNK), b""), offset=offset, total=total, close=fh.close
        )

    def put(self, key: str, source: Path) -> None:
        """Copy ``source`` to ``<dir>/<key>`` atomically."""
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.uploading")
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        except OSError as exc:
            raise TransferError(f"{self.describe(key)}: cannot write: {exc}") from exc

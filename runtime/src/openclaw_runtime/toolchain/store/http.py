"""A model store behind plain HTTP(S): GET with ``Range`` to fetch, PUT to publish.

The standard library's ``urllib`` is enough here (one request per file, no
connection pool needed), and keeps the toolchain free of another HTTP client.
Publishing needs a server that accepts PUT (nginx ``dav_methods PUT``, an
artifact repository, ...).
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from ..errors import TransferError
from .base import CHUNK, Download, Store, check_key

__all__ = ["HttpStore"]

TIMEOUT = 30.0
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class HttpStore(Store):
    """Fetches with GET (resuming with ``Range``) and publishes with PUT."""

    def _url(self, key: str) -> str:
        return f"{self.url}/{quote(check_key(key))}"

    def open(self, key: str, offset: int = 0) -> Download:
        """GET the object, asking for the bytes from ``offset`` on."""
        request = urllib.request.Request(self._url(key))
        if offset:
            request.add_header("Range", f"bytes={offset}-")
        try:
            response = urllib.request.urlopen(request, timeout=TIMEOUT)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:
                # The partial file is already complete (or longer): restart from 0.
                return self.open(key, 0)
            raise TransferError(f"{self.describe(key)}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise TransferError(f"{self.describe(key)}: cannot connect: {exc}") from exc
        start, total = 0, None
        if response.status == 206:
            match = _RANGE.fullmatch(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset:
                response.close()
                raise TransferError(f"{self.describe(key)}: bad Content-Range in a 206 response")
            start = offset
            total = int(match.group(3)) if match.group(3) != "*" else None
        elif response.headers.get("Content-Length"):
            total = int(response.headers["Content-Length"])
        return Download(
            iter(lambda: response.read(CHUNK), b""), offset=start, total=total, close=response.close
        )

    def put(self, key: str, source: Path) -> None:
        """PUT the file's bytes to the object's URL."""
        size = source.stat().st_size
        with source.open("rb") as fh:
            request = urllib.request.Request(self._url(key), data=fh, method="PUT")
            request.add_header("Content-Length", str(size))
            request.add_header("Content-Type", "application/octet-stream")
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                    response.read()
            except urllib.error.HTTPError as exc:
                hint = (
                    " (the server does not accept PUT; publish to file:// or s3:// instead)"
                    if exc.code
                    in (
                        403,
                        405,
                        501,
                    )
                    else ""
                )
                raise TransferError(
                    f"{self.describe(key)}: PUT failed: HTTP {exc.code}{hint}"
                ) from exc
            except (urllib.error.URLError, OSError) as exc:
                raise TransferError(f"{self.describe(key)}: cannot connect: {exc}") from exc

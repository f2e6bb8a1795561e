"""A model store behind plain HTTP(S): GET with ``Range`` to fetch, PUT to publish.

The standard library's ``urllib`` is enough here (one request per file, no
connection pool needed), and keeps the toolchain free of another HTTP client.
Publishing needs a server that accepts PUT (nginx ``dav_methods PUT``, an
artifact repository, ...). Redirects are followed only on the store's own
host and never from https to http.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import SplitResult, quote, urlsplit

from ..errors import TransferError, UsageError
from .base import CHUNK, Download, Store, check_key, redact_url

__all__ = ["HttpStore"]

TIMEOUT = 30.0
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class _RefusedRedirect(Exception):
    """A redirect to another host or from https to http."""


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    try:
        port = parts.port
    except ValueError:
        port = None
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def _redirect_problem(old_url: str, new_url: str) -> str | None:
    """Why a redirect from ``old_url`` to ``new_url`` is refused, or None when it is fine."""
    old_scheme, old_host, old_port = _origin(urlsplit(old_url))
    new_scheme, new_host, new_port = _origin(urlsplit(new_url))
    if new_scheme not in _DEFAULT_PORTS:
        return f"to a {new_scheme or 'relative'}: URL"
    if old_scheme == "https" and new_scheme == "http":
        return "from https to plain http"
    if new_host != old_host:
        return f"to another host ({new_host})"
    if new_port != old_port and not (old_scheme == "http" and new_scheme == "https"):
        return f"to another port ({new_port})"
    return None


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handling, refusing other hosts and https -> http downgrades."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        problem = _redirect_problem(req.full_url, newurl)
        if problem:
            fp.close()
            raise _RefusedRedirect(f"HTTP {code} redirect {problem}: {redact_url(newurl)}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class HttpStore(Store):
    """Fetches with GET (resuming with ``Range``) and publishes with PUT."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urlsplit(self.url)
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError as exc:
            raise UsageError(f"{self.public_url}: not a valid store URL ({exc})") from None
        if not parts.hostname:
            raise UsageError(f"{self.public_url}: the store URL names no host")
        self._opener = urllib.request.build_opener(_SameHostRedirects)

    def _url(self, key: str) -> str:
        return f"{self.url}/{quote(check_key(key))}"

    def _refused(self, key: str, exc: _RefusedRedirect) -> TransferError:
        return TransferError(
            f"{self.describe(key)}: {exc}; refusing to follow it (the manifest and the model "
            "would come from a server you did not name); give the final location as the "
            "store URL if you trust it"
        )

    def open(self, key: str, offset: int = 0) -> Download:
        """GET the object, asking for the bytes from ``offset`` on."""
        request = urllib.request.Request(self._url(key))
        if offset:
            request.add_header("Range", f"bytes={offset}-")
        try:
            response = self._opener.open(request, timeout=TIMEOUT)
        except _RefusedRedirect as exc:
            raise self._refused(key, exc) from None
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
                with self._opener.open(request, timeout=TIMEOUT) as response:
                    response.read()
            except _RefusedRedirect as exc:
                raise self._refused(key, exc) from None
            except urllib.error.HTTPError as exc:
                hint = (
                    " (the server does not accept PUT; publish to file:// or s3:// instead)"
                    if exc.code in (403, 405, 501)
                    else ""
                )
                raise TransferError(
                    f"{self.describe(key)}: PUT failed: HTTP {exc.code}{hint}"
                ) from exc
            except (urllib.error.URLError, OSError) as exc:
                raise TransferError(f"{self.describe(key)}: cannot connect: {exc}") from exc

"""Content-Encoding support (gzip, deflate) with a bound on the decompressed size."""

from __future__ import annotations

import zlib

from ..errors import PayloadTooLarge, UnsupportedMediaType

__all__ = ["ENCODINGS", "choose_encoding", "compress", "decompress"]

ENCODINGS = ("gzip", "deflate")
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Decode ``body`` per its Content-Encoding, refusing output larger than ``limit`` bytes."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc not in _WBITS:
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or identity"
        )
    # deflate in HTTP is zlib-wrapped, but some clients send raw deflate: accept both.
    wbits = _WBITS[enc]
    if enc == "deflate" and body[:1] and (body[0] & 0x0F) != 8:
        wbits = -zlib.MAX_WBITS
    engine = zlib.decompressobj(wbits)
    try:
        out = engine.decompress(body, limit + 1)
    except zlib.error as exc:
        raise UnsupportedMediaType(f"body is not valid {enc} data: {exc}") from exc
    if len(out) > limit or engine.unconsumed_tail:
        raise PayloadTooLarge(f"decompressed body exceeds the limit of {limit} bytes")
    if not engine.eof:
        raise UnsupportedMediaType(f"body is truncated {enc} data")
    return out


def choose_encoding(accept_encoding: str | None) -> str | None:
    """Return gzip or deflate if the Accept-Encoding header allows it (q > 0), else None."""
    if not accept_encoding:
        return None
    offered: dict[str, float] = {}
    for part in accept_encoding.split(","):
        token, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        offered[token.strip().lower()] = q
    for enc in ENCODINGS:
        if offered.get(enc, 0.0) > 0:
            return enc
    return None


def compress(body: bytes, encoding: str) -> bytes:
    """Encode ``body`` with gzip or deflate (zlib stream), level 1 for speed."""
    engine = zlib.compressobj(1, zlib.DEFLATED, _WBITS[encoding])
    return engine.compress(body) + engine.flush()

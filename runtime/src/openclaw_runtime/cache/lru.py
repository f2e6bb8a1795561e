"""The in-process tier: an LRU bounded by entries and bytes, with a TTL."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["LRUCache"]


class LRUCache:
    """Least-recently-used cache of bytes; expired entries are dropped when read."""

    __slots__ = ("_bytes", "_clock", "_data", "max_bytes", "max_entries", "ttl")

    def __init__(
        self,
        max_entries: int,
        max_bytes: int,
        ttl: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        """Return the bytes held."""
        return self._bytes

    def get(self, key: str) -> bytes | None:
        """Return the value of ``key`` if present and fresh."""
        item = self._data.get(key)
        if item is None:
            return None
        expires, value = item
        if self._clock() >= expires:
            self._drop(key)
            return None
        self._data.move_to_end(key)
        return value

    def put(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value`` (values larger than the byte budget are ignored)."""
        if self.max_entries <= 0 or len(value) > self.max_bytes:
            return
        if key in self._data:
            self._drop(key)
        self._data[key] = (self._clock() + (self.ttl if ttl is None else ttl), value)
        self._bytes += len(value)
        while len(self._data) > self.max_entries or self._bytes > self.max_bytes:
            oldest = next(iter(self._data))
            self._drop(oldest)

    def _drop(self, key: str) -> None:
        _, value = self._data.pop(key)
        self._bytes -= len(value)

    def clear(self) -> None:
        """Forget everything."""
        self._data.clear()
        self._bytes = 0

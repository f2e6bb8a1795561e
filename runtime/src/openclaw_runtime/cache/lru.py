"""The in-process tier: an LRU bounded by entries and bytes, with a TTL.

Values are kept as they are served (decoded arrays, read-only), so a hit in
this tier costs a dictionary lookup; ``size`` tells the byte budget what each
value weighs.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["LRUCache"]


class LRUCache:
    """Least-recently-used cache; expired entries are dropped when read."""

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
        self._data: OrderedDict[str, tuple[float, int, Any]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        """Return the bytes held."""
        return self._bytes

    def get(self, key: str) -> Any:
        """Return the value of ``key`` if present and fresh, else None."""
        item = self._data.get(key)
        if item is None:
            return None
        if self._clock() >= item[0]:
            self._drop(key)
            return None
        self._data.move_to_end(key)
        return item[2]

    def put(self, key: str, value: Any, size: int | None = None, ttl: float | None = None) -> None:
        """Store ``value`` weighing ``size`` bytes (``len(value)`` by default); too big: ignored."""
        size = len(value) if size is None else size
        if self.max_entries <= 0 or size > self.max_bytes:
            return
        if key in self._data:
            self._drop(key)
        self._data[key] = (self._clock() + (self.ttl if ttl is None else ttl), size, value)
        self._bytes += size
        while len(self._data) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._data)))

    def _drop(self, key: str) -> None:
        _, size, _ = self._data.pop(key)
        self._bytes -= size

    def clear(self) -> None:
        """Forget everything."""
        self._data.clear()
        self._bytes = 0

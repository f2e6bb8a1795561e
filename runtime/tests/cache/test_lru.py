"""The in-process tier: LRU order, byte budget, TTL."""

from __future__ import annotations

from openclaw_runtime.cache import LRUCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_evicts_least_recently_used():
    lru = LRUCache(2, 1000, 60)
    lru.put("a", b"1")
    lru.put("b", b"2")
    assert lru.get("a") == b"1"
    lru.put("c", b"3")
    assert lru.get("b") is None and lru.get("a") == b"1" and lru.get("c") == b"3"


def test_byte_budget():
    lru = LRUCache(100, 10, 60)
    lru.put("a", b"12345")
    lru.put("b", b"12345")
    lru.put("c", b"1")
    assert lru.get("a") is None and len(lru) == 2 and lru.nbytes == 6
    lru.put("huge", b"x" * 11)
    assert lru.get("huge") is None


def test_ttl():
    clock = Clock()
    lru = LRUCache(10, 100, 300, clock=clock)
    lru.put("a", b"1")
    clock.now = 299
    assert lru.get("a") == b"1"
    clock.now = 300
    assert lru.get("a") is None and len(lru) == 0


def test_replace_keeps_byte_count_right():
    lru = LRUCache(10, 100, 60)
    lru.put("a", b"12345")
    lru.put("a", b"12")
    assert lru.nbytes == 2

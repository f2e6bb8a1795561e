"""The result cache: canonical request hash, in-process LRU, Redis tier that fails open.

The inference path calls :meth:`ResultCache.get` before the batcher and
:meth:`ResultCache.put` after it; their keys name the loaded version by its
content digest too (:meth:`ResultCache.key` gives one, None = do not cache).
No web framework here.
"""

from __future__ import annotations

from .codec import decode_outputs, encode_outputs
from .consult import ResultCacheProtocol
from .hashing import IGNORED_PARAMETERS, cache_opt_out, request_key
from .lru import LRUCache
from .metrics import CacheMetrics, cache_metrics
from .service import ResultCache
from .settings import CacheSettings

__all__ = [
    "IGNORED_PARAMETERS",
    "CacheMetrics",
    "CacheSettings",
    "LRUCache",
    "RedisTier",
    "ResultCache",
    "ResultCacheProtocol",
    "cache_metrics",
    "cache_opt_out",
    "decode_outputs",
    "encode_outputs",
    "request_key",
]


def __getattr__(name: str):
    # RedisTier imports redis-py (about 5 MB): only on first use.
    if name == "RedisTier":
        from .redis_tier import RedisTier

        return RedisTier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

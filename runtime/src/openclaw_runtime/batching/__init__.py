"""Per-model dynamic batching."""

from .batcher import Batcher, BatchRecord

__all__ = ["BatchRecord", "Batcher"]

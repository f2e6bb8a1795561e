"""How the inference service consults a result cache: the interface, and calls that fail open.

The service looks outputs up after validation and before the batcher, and
stores what the batcher returned; a cache that raises is logged and treated
as a miss, never as a failed request. :class:`.service.ResultCache` is the
implementation the server plugs in.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from ..metrics import ModelStats
    from ..models.session import LoadedModel

__all__ = ["ResultCacheProtocol", "cached_outputs", "store_outputs"]

# The service's messages: these calls were InferenceService methods before they moved here.
log = logging.getLogger("openclaw.service")


class ResultCacheProtocol(Protocol):
    """A result cache plugged in before the batcher (implemented by :class:`.ResultCache`)."""

    async def get(
        self, model: LoadedModel, inputs: dict[str, np.ndarray], parameters: dict[str, Any]
    ) -> list[np.ndarray] | None:
        """Return cached outputs (in ``model.output_names`` order) or None."""

    async def put(
        self,
        model: LoadedModel,
        inputs: dict[str, np.ndarray],
        parameters: dict[str, Any],
        outputs: list[np.ndarray],
    ) -> None:
        """Store outputs for these inputs."""


async def cached_outputs(
    cache: ResultCacheProtocol,
    loaded: LoadedModel,
    feeds: dict[str, np.ndarray],
    params: dict[str, Any],
    stats: ModelStats,
) -> list[np.ndarray] | None:
    """Return the cached outputs (timing the lookup as a hit or a miss), or None."""
    t0 = time.monotonic_ns()
    try:
        found = await cache.get(loaded, feeds, params)
    except Exception:
        log.warning("result cache lookup failed", exc_info=True)
        return None
    (stats.cache_hit if found is not None else stats.cache_miss).add(time.monotonic_ns() - t0)
    return found


async def store_outputs(
    cache: ResultCacheProtocol,
    loaded: LoadedModel,
    feeds: dict[str, np.ndarray],
    params: dict[str, Any],
    outputs: list[np.ndarray],
) -> None:
    """Store the batcher's outputs; a failure is only logged."""
    try:
        await cache.put(loaded, feeds, params, outputs)
    except Exception:
        log.warning("result cache store failed", exc_info=True)

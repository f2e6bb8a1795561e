"""A retired model version is freed at once, without the cyclic garbage collector.

The worker freezes its start-up heap (``gc.freeze``): a version loaded at start-up
and later unloaded or replaced is only freed if nothing in it forms a reference
cycle.
"""

from __future__ import annotations

import dataclasses
import gc
import weakref

import numpy as np

from openclaw_runtime.config import Settings
from openclaw_runtime.protocol.types import InferenceRequest, Tensor
from openclaw_runtime.service import InferenceService


async def test_unloaded_version_is_freed_by_reference_counting(demo_repo):
    settings = Settings()
    settings = dataclasses.replace(
        settings,
        models=dataclasses.replace(
            settings.models, repository=str(demo_repo), poll_interval_seconds=0
        ),
    )
    service = InferenceService(settings)
    await service.start()
    loaded = await service.resolve("digits")
    request = InferenceRequest(
        inputs=[Tensor("input", "FP32", np.zeros((1, 64), np.float32))], outputs=None
    )
    response = await service.infer(loaded, request)
    assert response.model_name == "digits"
    model_ref = weakref.ref(loaded)
    session_ref = weakref.ref(loaded.session)
    del loaded, response
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        await service.unload("digits")
        assert model_ref() is None, gc.get_referrers(model_ref())
        assert session_ref() is None
    finally:
        if was_enabled:
            gc.enable()
        await service.close()

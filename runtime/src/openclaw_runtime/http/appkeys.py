"""The typed keys (``web.AppKey``) of the aiohttp application's state."""

from __future__ import annotations

from aiohttp import web

from ..config import Settings
from ..service import InferenceService

__all__ = ["SERVICE_KEY", "SETTINGS_KEY"]

SETTINGS_KEY = web.AppKey("openclaw_settings", Settings)
SERVICE_KEY = web.AppKey("openclaw_service", InferenceService)

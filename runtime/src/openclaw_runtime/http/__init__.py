"""HTTP layer: the aiohttp application, its routes, the request context and the worker process."""

from .app import build_app, error_response, install
from .appkeys import SERVICE_KEY, SETTINGS_KEY

__all__ = ["SERVICE_KEY", "SETTINGS_KEY", "build_app", "error_response", "install"]

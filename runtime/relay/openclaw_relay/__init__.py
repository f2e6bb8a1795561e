"""openclaw-relay: Alertmanager webhook notifications to WeCom and DingTalk group robots.

Alertmanager speaks SMTP and generic webhooks itself; the two robots want
their own JSON (and DingTalk a signed URL), so this small service takes
Alertmanager's webhook payload on ``POST /alert/<channel>`` and posts the
robot's message, with retries and its own ``/metrics``. It runs on the
distribution's Python, aiohttp, prometheus_client and PyYAML.
"""

from .config import Channel, RelaySettings, load_settings
from .errors import ConfigError, DeliveryError, PayloadError, RelayError

__all__ = [
    "Channel",
    "ConfigError",
    "DeliveryError",
    "PayloadError",
    "RelayError",
    "RelaySettings",
    "load_settings",
]

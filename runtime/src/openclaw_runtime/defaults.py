"""Defaults the image, the health probe and the settings share (stdlib only).

``config.py`` builds its defaults from these, ``runtime/Dockerfile`` exposes
``PORT`` and creates ``REPOSITORY`` (``tests/test_image_defaults.py`` keeps the
two in step), and ``openclaw-runtime-probe`` asks ``READY_PATH`` on the port
the settings resolve to. This module imports nothing, so the probe that Docker
runs every few seconds starts in milliseconds.
"""

__all__ = ["PORT", "READY_PATH", "REPOSITORY"]

# Listen port of the HTTP server (server.port).
PORT = 8000
# Model repository directory (models.repository).
REPOSITORY = "/models"
# Readiness: 200 once the start-up models are loaded, 503 while starting or draining.
READY_PATH = "/v2/health/ready"

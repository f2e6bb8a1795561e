"""The port, the repository and the health probe have one definition each.

openclaw_runtime/defaults.py holds them; the settings take their defaults from
it, the Dockerfile repeats the port (EXPOSE) and the directory, sets no
OPENCLAW_* variable that would override a --config file, and its HEALTHCHECK
runs openclaw-runtime-probe, which resolves the port as load_settings does and
asks the path the router serves.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openclaw_runtime import defaults
from openclaw_runtime.config import load_settings
from openclaw_runtime.probe import probe_port

DOCKERFILE = (Path(__file__).resolve().parents[1] / "Dockerfile").read_text()


def test_settings_defaults_come_from_the_defaults_module():
    settings = load_settings(env={})
    assert settings.server.port == defaults.PORT
    assert settings.models.repository == defaults.REPOSITORY


def test_dockerfile_repeats_the_defaults_and_overrides_nothing():
    assert re.findall(r"^EXPOSE\s+(\d+)\s*$", DOCKERFILE, re.M) == [str(defaults.PORT)]
    assert f"mkdir -p {defaults.REPOSITORY}" in DOCKERFILE
    assert f"COPY --from=build {defaults.REPOSITORY} {defaults.REPOSITORY}" in DOCKERFILE
    env_lines = re.findall(r"^ENV\s.*?(?<!\\)$", DOCKERFILE, re.M | re.S)
    assert env_lines and not any("OPENCLAW_" in line for line in env_lines), env_lines
    assert re.search(r'^\s+CMD \["openclaw-runtime-probe"\]\s*$', DOCKERFILE, re.M)


@pytest.mark.parametrize(
    ("file_port", "env"),
    [(None, {}), (9100, {}), (9100, {"OPENCLAW_SERVER_PORT": "9200"})],
)
def test_probe_port_resolves_like_the_settings(tmp_path, file_port, env):
    config = None
    if file_port is not None:
        config = tmp_path / "runtime.yaml"
        config.write_text(f"server:\n  port: {file_port}\n")
    settings = load_settings(config, env=env)
    assert probe_port(str(config) if config else None, env) == settings.server.port

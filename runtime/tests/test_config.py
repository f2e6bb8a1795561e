"""Settings: file, then OPENCLAW_* environment, then flags; errors name key, value, allowed."""

from __future__ import annotations

import pytest

from openclaw_runtime.cli import main
from openclaw_runtime.config import env_name, load_settings
from openclaw_runtime.errors import ConfigError


def test_defaults_follow_the_guide():
    s = load_settings(env={})
    assert s.batching.max_batch_size == 32
    assert s.models.intra_op_threads == 1
    assert s.server.port == 8000


def test_precedence_file_then_env_then_overrides(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("server: {port: 9001, host: 127.0.0.1}\nbatching: {max_batch_size: 8}\n")
    s = load_settings(cfg, env={"OPENCLAW_SERVER_PORT": "9002"}, overrides={"server.port": 9003})
    assert s.server.port == 9003 and s.server.host == "127.0.0.1"
    assert s.batching.max_batch_size == 8
    assert load_settings(cfg, env={"OPENCLAW_SERVER_PORT": "9002"}).server.port == 9002


def test_env_lists_and_booleans():
    s = load_settings(
        env={"OPENCLAW_MODELS_STARTUP_MODELS": "a, b", "OPENCLAW_METRICS_ENABLED": "no"}
    )
    assert s.models.startup_models == ("a", "b")
    assert s.metrics.enabled is False


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "server: {port: 70000}",
            r"server.port: invalid value 70000; allowed: int in \[0, 65535\]",
        ),
        ("server: {prot: 1}", r"server.prot: unknown key; allowed keys here: .*port"),
        ("logging: {level: loud}", r"logging.level: invalid value 'loud'; allowed: one of 'debug'"),
        ("batching: {execution: gpu}", r"batching.execution: invalid value 'gpu'"),
        ("[1, 2]", "top level must be a mapping"),
        ("server: [", "not valid YAML"),
    ],
)
def test_invalid_values_name_key_value_and_allowed(tmp_path, yaml_text, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message):
        load_settings(cfg, env={})


def test_invalid_env_value_names_the_key():
    with pytest.raises(ConfigError, match=r"server.workers: invalid value 'many'"):
        load_settings(env={env_name("server.workers"): "many"})


def test_settings_are_frozen():
    s = load_settings(env={})
    with pytest.raises(AttributeError):
        s.server.port = 1  # type: ignore[misc]


def test_check_config_cli(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text("server: {port: 8080}\n")
    assert main(["check-config", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("server: {port: -1}\n")
    assert main(["check-config", str(bad)]) == 2
    assert "server.port: invalid value -1" in capsys.readouterr().err

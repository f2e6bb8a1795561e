"""The settings file: good values load, each bad one is named with what is allowed."""

from __future__ import annotations

import pytest
import yaml
from standins import channels

from openclaw_relay import ConfigError, load_settings
from openclaw_relay.__main__ import main


def _write(tmp_path, doc) -> str:
    path = tmp_path / "relay.yml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_a_complete_file_loads(tmp_path):
    settings = load_settings(
        _write(tmp_path, {"listen": ":9095", "language": "en", "channels": channels("http://x")})
    )
    assert (settings.host, settings.port, settings.language) == ("0.0.0.0", 9095, "en")
    assert [c.kind for c in settings.channels] == ["wecom", "dingtalk"]
    # The URL holds the robot's key: repr never shows it.
    assert "key" not in repr(settings.channels[0])
    assert settings.status is None


def test_the_status_listener_is_optional(tmp_path):
    page = load_settings(_write(tmp_path, {"status": {"window": "1h"}}))
    assert page.status is not None and page.status.listen is None
    shared = load_settings(_write(tmp_path, {"status": {"listen": "192.0.2.10:9096"}}))
    assert shared.status.listen == ("192.0.2.10", 9096)
    assert load_settings(_write(tmp_path, {"status": {"listen": ":9096"}})).status.listen == (
        "0.0.0.0",
        9096,
    )


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ({"listen": "localhost"}, ["listen", "HOST:PORT"]),
        ({"status": {"listen": "9096"}}, ["status.listen", "HOST:PORT", ":9096"]),
        (
            {"listen": "127.0.0.1:9095", "status": {"listen": ":9095"}},
            ["status.listen", "port 9095", "a port of its own"],
        ),
        ({"language": "fr"}, ["language", "'fr'", "zh or en"]),
        ({"attempts": 0}, ["attempts", ">= 1"]),
        ({"channels": [{"name": "x", "kind": "slack", "url": "http://a"}]}, ["kind", "wecom"]),
        (
            {"channels": [{"name": "x", "kind": "wecom", "url": "ftp://a/?key=s3"}]},
            ["url", "<hidden>"],
        ),
        ({"channels": [{"name": "d", "kind": "dingtalk", "url": "http://a"}]}, ["secret", "SEC"]),
        (
            {"channels": [{"name": "w", "kind": "wecom", "url": "http://a", "msgtype": "news"}]},
            ["msgtype"],
        ),
    ],
)
def test_a_bad_value_is_named(tmp_path, doc, words):
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, doc))
    for word in words:
        assert word in str(info.value)
    assert "s3" not in str(info.value)


def test_check_command_reports_and_fails(tmp_path, capsys):
    good = _write(tmp_path, {"channels": channels("http://x")})
    assert main(["check", "--config", good]) == 0
    assert "wecom (wecom), dingtalk (dingtalk)" in capsys.readouterr().out
    assert main(["check", "--config", str(tmp_path / "missing.yml")]) == 2
    assert "cannot read" in capsys.readouterr().err

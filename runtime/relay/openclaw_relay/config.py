"""Typed, frozen settings read once from the YAML file the role writes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from .errors import ConfigError

__all__ = [
    "KINDS",
    "LANGUAGES",
    "Channel",
    "RelaySettings",
    "StatusSettings",
    "default_config_path",
    "load_settings",
]

KINDS = ("wecom", "dingtalk")
LANGUAGES = ("zh", "en")
MSGTYPES = ("markdown", "text")


@dataclass(frozen=True)
class Channel:
    """One robot: name (the URL path), kind, webhook URL and, for DingTalk, the signing secret."""

    name: str
    kind: str
    url: str
    secret: str = ""
    msgtype: str = "markdown"

    def __repr__(self) -> str:  # never print the URL's key or the secret
        return f"Channel(name={self.name!r}, kind={self.kind!r})"


@dataclass(frozen=True)
class StatusSettings:
    """The status page: where Prometheus and Alertmanager answer, the load-gate reports,
    and the plots' span, step and rate window (seconds)."""

    prometheus: str = "http://127.0.0.1:9090"
    alertmanager: str = "http://127.0.0.1:9093"
    loadgate_dir: str = ""
    window: int = 3600
    step: int = 30
    rate_window: int = 60
    # A second, read-only listener (host, port) serving only the page and its
    # data, for browsers outside the host; None: the page is on the relay's
    # own listener only (which also takes Alertmanager's posts).
    listen: tuple[str, int] | None = None


@dataclass(frozen=True)
class RelaySettings:
    """Where the relay listens, how it retries, and its channels."""

    host: str = "127.0.0.1"
    port: int = 9095
    language: str = "zh"
    attempts: int = 4
    backoff: float = 1.0
    timeout: float = 10.0
    channels: tuple[Channel, ...] = ()
    status: StatusSettings | None = None

    def channel(self, name: str) -> Channel | None:
        """Return the channel called ``name``, if configured."""
        return next((c for c in self.channels if c.name == name), None)


def default_config_path() -> Path:
    """The file systemd hands over as a credential, else the role's path."""
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials:
        return Path(credentials) / "relay.yml"
    return Path("/etc/openclaw-relay/relay.yml")


def _bad(key: str, value: object, allowed: str) -> ConfigError:
    shown = "<hidden>" if key.endswith(("url", "secret")) else repr(value)
    return ConfigError(f"relay config: {key} = {shown} is invalid; allowed: {allowed}")


def _number(doc: dict, key: str, cast, low: float, default):
    value = doc.get(key, default)
    try:
        number = cast(value)
    except (TypeError, ValueError):
        raise _bad(key, value, f"a number >= {low}") from None
    if isinstance(value, bool) or number < low:
        raise _bad(key, value, f"a number >= {low}")
    return number


def _listen(value: object, key: str = "listen", example: str = "127.0.0.1:9095") -> tuple[str, int]:
    text = str(value)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        port_only = example.rpartition(":")[2]
        raise _bad(key, value, f"HOST:PORT such as {example} (or :{port_only} for every address)")
    return host.strip("[]") or "0.0.0.0", int(port)


def _channel(index: int, item: object) -> Channel:
    where = f"channels[{index}]"
    if not isinstance(item, dict):
        raise _bad(where, item, "a mapping with name, kind and url")
    name = str(item.get("name", ""))
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise _bad(f"{where}.name", name, "letters, digits, - and _")
    kind = item.get("kind")
    if kind not in KINDS:
        raise _bad(f"{where}.kind", kind, " or ".join(KINDS))
    url = str(item.get("url", ""))
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise _bad(f"{where}.url", url, "the robot's http(s) webhook URL")
    secret = str(item.get("secret") or "")
    if kind == "dingtalk" and not secret:
        raise ConfigError(
            f"relay config: {where} ({name}) is a DingTalk robot without secret; set the "
            "robot's signing secret (SEC...) from its security settings"
        )
    msgtype = item.get("msgtype", "markdown")
    if msgtype not in MSGTYPES:
        raise _bad(f"{where}.msgtype", msgtype, " or ".join(MSGTYPES))
    return Channel(name=name, kind=kind, url=url, secret=secret, msgtype=msgtype)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(doc: dict, key: str, default: int) -> int:
    value = doc.get(key, default)
    text = str(value).strip()
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "s")
    if isinstance(value, bool) or not number.isdigit() or int(number) * _UNITS[unit] < 1:
        raise _bad(f"status.{key}", value, "a duration such as 30s, 5m, 1h (or seconds)")
    return int(number) * _UNITS[unit]


def _url(doc: dict, key: str, default: str) -> str:
    url = str(doc.get(key, default))
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise _bad(f"status.{key}", url, "an http(s) URL such as http://127.0.0.1:9090")
    return url.rstrip("/")


def _status(doc: object) -> StatusSettings | None:
    if doc in (None, False):
        return None
    if not isinstance(doc, dict):
        raise _bad("status", doc, "a mapping (prometheus, alertmanager, loadgate_dir, ...)")
    status = StatusSettings(
        prometheus=_url(doc, "prometheus", StatusSettings.prometheus),
        alertmanager=_url(doc, "alertmanager", StatusSettings.alertmanager),
        loadgate_dir=str(doc.get("loadgate_dir") or ""),
        window=_seconds(doc, "window", StatusSettings.window),
        step=_seconds(doc, "step", StatusSettings.step),
        rate_window=_seconds(doc, "rate_window", StatusSettings.rate_window),
        listen=_listen(doc["listen"], "status.listen", "192.0.2.10:9096")
        if doc.get("listen")
        else None,
    )
    if status.window // status.step > 10000:
        raise ConfigError(
            f"relay config: status.window / status.step = {status.window // status.step} "
            "points a series; Prometheus answers at most 11000: raise step or shorten window"
        )
    return status


def settings_from_dict(doc: dict) -> RelaySettings:
    """Build the settings from a parsed document; raise ConfigError naming a bad key."""
    if not isinstance(doc, dict):
        raise ConfigError("relay config: the file must hold a YAML mapping")
    host, port = _listen(doc.get("listen", "127.0.0.1:9095"))
    language = doc.get("language", "zh")
    if language not in LANGUAGES:
        raise _bad("language", language, " or ".join(LANGUAGES))
    items = doc.get("channels") or []
    if not isinstance(items, list):
        raise _bad("channels", items, "a list of robots")
    channels = tuple(_channel(i, item) for i, item in enumerate(items))
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise _bad("channels", names, "distinct names")
    status = _status(doc.get("status"))
    if status is not None and status.listen is not None and status.listen[1] == port:
        raise ConfigError(
            f"relay config: status.listen uses port {port}, the relay's own (listen); give the "
            "read-only status listener a port of its own, such as 9096"
        )
    return RelaySettings(
        host=host,
        port=port,
        language=language,
        attempts=_number(doc, "attempts", int, 1, 4),
        backoff=_number(doc, "backoff", float, 0, 1.0),
        timeout=_number(doc, "timeout", float, 0.1, 10.0),
        channels=channels,
        status=status,
    )


def load_settings(path: str | os.PathLike[str] | None = None) -> RelaySettings:
    """Read and check the configuration file."""
    path = Path(path) if path else default_config_path()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"relay config: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"relay config: {path} is not valid YAML: {exc}") from None
    return settings_from_dict(doc)

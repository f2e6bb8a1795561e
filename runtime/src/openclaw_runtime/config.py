"""Runtime settings: one typed, frozen object built once.

Precedence (lowest to highest): defaults, the YAML file, ``OPENCLAW_*``
environment variables, command-line overrides. Every scalar key
``section.name`` has the environment variable ``OPENCLAW_SECTION_NAME``
(``models.repository`` -> ``OPENCLAW_MODELS_REPOSITORY``). An invalid value
raises :class:`~openclaw_runtime.errors.ConfigError` naming the key, the value
and what is allowed.

Adding a section: define a frozen dataclass with defaults and add it as a field
of :class:`Settings`; the loader, the environment mapping and
``check-config`` pick it up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from . import _schema, defaults
from .auth.settings import AuthSettings
from .cache.settings import CacheSettings
from .errors import ConfigError

__all__ = [
    "AuthSettings",
    "BatchingSettings",
    "CacheSettings",
    "LoggingSettings",
    "MetricsSettings",
    "ModelSettings",
    "ServerSettings",
    "Settings",
    "env_name",
    "load_settings",
]

ENV_PREFIX = "OPENCLAW_"


def _range(lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    return {"min": lo, "max": hi}


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """HTTP listener and process model."""

    host: str = "0.0.0.0"
    port: int = field(default=defaults.PORT, metadata=_range(0, 65535))
    # 0 = one worker per CPU of the container's quota (cgroup cpu.max / cfs quota).
    workers: int = field(default=0, metadata=_range(0, 256))
    # Largest request body, after Content-Encoding is undone (a full batch of the demo
    # model, 32 x 64 floats, is about 25 KB in JSON).
    max_body_bytes: int = field(default=16 * 1024 * 1024, metadata=_range(1024))
    # Bodies of this many bytes or more are decoded in a thread, so that the event loop
    # keeps serving small requests; smaller ones are decoded inline (no thread hop, about
    # 50 us). 256 KiB decodes inline in ~2 ms as JSON, ~10-40 ms as empty BYTES elements.
    decode_in_thread_bytes: int = field(default=256 * 1024, metadata=_range(0))
    # Largest element count of one input tensor; checked, with the bytes that carry
    # the data, before anything is allocated for the tensor.
    max_tensor_elements: int = field(default=16 * 1024 * 1024, metadata=_range(1, 1 << 40))
    # Most dimensions an input tensor may have (numpy's own limit is 64).
    max_tensor_dims: int = field(default=16, metadata=_range(1, 32))
    # Seconds in-flight requests get to finish after SIGTERM.
    shutdown_grace_seconds: float = field(default=20.0, metadata=_range(0, 3600))
    # Seconds readiness reports 503 before the listener closes (load balancers notice).
    shutdown_delay_seconds: float = field(default=0.0, metadata=_range(0, 600))
    # A worker that does not report a heartbeat for this long is killed and restarted.
    worker_hang_seconds: float = field(default=30.0, metadata=_range(1, 3600))
    backlog: int = field(default=4096, metadata=_range(1, 65535))


@dataclass(frozen=True, slots=True)
class BatchingSettings:
    """Defaults for every model's batcher; a model's config.yaml may override them."""

    max_batch_size: int = field(default=32, metadata=_range(1, 65536))
    # Extra wait (microseconds, from the oldest queued request's arrival) for a fuller
    # batch after a run; 0 dispatches at once. Idle models always dispatch at once.
    max_queue_delay_us: int = field(default=0, metadata=_range(0, 10_000_000))
    max_queue_size: int = field(default=2048, metadata=_range(1))
    # Default per-request timeout in microseconds (0 = none); the request parameter
    # "timeout" (microseconds, as in Triton) overrides it.
    default_timeout_us: int = field(default=0, metadata=_range(0))
    # Where session.run executes: "inline" on the event loop (fastest for small models,
    # measured 1.8x at one connection); "thread" keeps the loop reading during long runs.
    execution: Literal["thread", "inline"] = "inline"


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """The model repository and its memory budget."""

    repository: str = defaults.REPOSITORY
    # Models loaded (and warmed up) before readiness; ["*"] = every model not
    # marked load: on_demand in its config.yaml.
    startup_models: tuple[str, ...] = ("*",)
    # Total model memory for the whole container, split evenly between workers.
    memory_limit_mb: int = field(default=512, metadata=_range(1))
    # Seconds between repository scans for new/changed versions (0 = no hot reload).
    poll_interval_seconds: float = field(default=2.0, metadata=_range(0, 86400))
    intra_op_threads: int = field(default=1, metadata=_range(1, 256))
    inter_op_threads: int = field(default=1, metadata=_range(1, 256))
    # Verify SHA-256 manifests on load; turning it off is for development only.
    verify_checksums: bool = True
    # Refuse versions without a manifest (SHA256SUMS) when true.
    require_manifest: bool = True


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """Prometheus metrics."""

    enabled: bool = True
    # Directory for prometheus_client's multiprocess files; empty = a private temp dir.
    multiproc_dir: str = ""


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    """Structured logs (one JSON object a line on stderr)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    # Log one line per request (at debug level) when true.
    access_log: bool = False
    format: Literal["json", "text"] = "json"


@dataclass(frozen=True, slots=True)
class Settings:
    """Every runtime setting; build it with :func:`load_settings`."""

    server: ServerSettings = field(default_factory=ServerSettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    batching: BatchingSettings = field(default_factory=BatchingSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain data (for logs and ``check-config``)."""
        from dataclasses import asdict

        return asdict(self)


def env_name(key: str) -> str:
    """Return the environment variable of a dotted key: server.port -> OPENCLAW_SERVER_PORT."""
    return ENV_PREFIX + key.replace(".", "_").upper()


def _set_path(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{key}: cannot set inside non-mapping {part!r}")
        node = child
    node[parts[-1]] = value


def _read_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {data!r}")
    return data


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from a YAML file, then ``OPENCLAW_*`` variables, then overrides."""
    tree: dict[str, Any] = _read_file(path) if path else {}
    env = os.environ if env is None else env
    paths = _schema.field_paths(Settings)
    for key in paths:
        name = env_name(key)
        if name in env:
            _set_path(tree, key, env[name])
    for key, value in (overrides or {}).items():
        if key not in paths:
            raise ConfigError(f"{key}: unknown setting; known: {', '.join(sorted(paths))}")
        if value is not None:
            _set_path(tree, key, value)
    return _schema.build(Settings, tree)

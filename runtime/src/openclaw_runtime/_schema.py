"""Build frozen dataclasses from plain mappings with messages that name key, value and rule.

Used by the runtime settings and by the per-model ``config.yaml``; a field's
``metadata`` may carry ``min``, ``max`` and ``choices``; a ``Literal`` type
gives the allowed values; nested dataclasses and ``tuple[X, ...]`` recurse.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from .errors import ConfigError, OpenClawError

__all__ = ["build", "coerce_scalar", "field_paths"]

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _fail(key: str, value: Any, allowed: str, error: type[OpenClawError]) -> typing.NoReturn:
    raise error(f"{key}: invalid value {value!r}; allowed: {allowed}")


def coerce_scalar(
    key: str, value: Any, tp: Any, meta: Mapping[str, Any], error: type[OpenClawError] = ConfigError
) -> Any:
    """Convert ``value`` (possibly a string from the environment) to ``tp`` and check its bounds."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return _union(key, value, tp, meta, error)
    if origin is Literal:
        return _literal(key, value, tp, meta, error)
    scalar = _SCALARS.get(tp)
    if scalar is not None:
        return scalar(key, value, tp, meta, error)
    if origin is tuple:
        return _sequence(key, value, tp, meta, error)
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            _fail(key, value, "a mapping", error)
        return dict(value)
    raise TypeError(f"unsupported settings type {tp!r} for {key}")


def _union(key: str, value: Any, tp: Any, meta: Mapping[str, Any], error: type[OpenClawError]):
    args = [a for a in get_args(tp) if a is not type(None)]
    empty = value is None or (isinstance(value, str) and value.lower() in ("", "none", "null"))
    if empty and type(None) in get_args(tp):
        return None
    last: OpenClawError | None = None
    for arg in args:
        try:
            return coerce_scalar(key, value, arg, meta, error)
        except OpenClawError as exc:
            last = exc
    assert last is not None
    raise last


def _literal(key: str, value: Any, tp: Any, _meta: Mapping[str, Any], error: type[OpenClawError]):
    choices = get_args(tp)
    for choice in choices:
        if value == choice or (isinstance(value, str) and str(choice) == value):
            return choice
    _fail(key, value, "one of " + ", ".join(repr(c) for c in choices), error)


def _bool(key: str, value: Any, _tp: Any, _meta: Mapping[str, Any], error: type[OpenClawError]):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    _fail(key, value, "a boolean (true/false)", error)


def _number(key: str, value: Any, tp: Any, meta: Mapping[str, Any], error: type[OpenClawError]):
    if isinstance(value, bool):
        _fail(key, value, f"a number ({tp.__name__})", error)
    try:
        number = tp(value)
        if tp is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
    except (TypeError, ValueError):
        _fail(key, value, f"a number ({tp.__name__})", error)
    lo, hi = meta.get("min"), meta.get("max")
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        _fail(key, value, f"{tp.__name__} in [{lo}, {hi if hi is not None else 'inf'}]", error)
    return number


def _string(key: str, value: Any, _tp: Any, meta: Mapping[str, Any], error: type[OpenClawError]):
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        _fail(key, value, "a string", error)
    text = str(value)
    choices = meta.get("choices")
    if choices and text not in choices:
        _fail(key, value, "one of " + ", ".join(choices), error)
    return text


def _sequence(key: str, value: Any, tp: Any, meta: Mapping[str, Any], error: type[OpenClawError]):
    (item_tp, *_rest) = get_args(tp)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        _fail(key, value, "a list", error)
    return tuple(_convert(f"{key}[{i}]", v, item_tp, meta, error) for i, v in enumerate(value))


_SCALARS = {bool: _bool, int: _number, float: _number, str: _string}


def _convert(key: str, value: Any, tp: Any, meta: Mapping[str, Any], error: type[OpenClawError]):
    if dataclasses.is_dataclass(tp):
        return build(tp, value, prefix=key, error=error)
    return coerce_scalar(key, value, tp, meta, error)


def build(
    cls: type[T], data: Any, *, prefix: str = "", error: type[OpenClawError] = ConfigError
) -> T:
    """Return ``cls(**data)`` with every value converted and checked; unknown keys are errors."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        _fail(prefix or "<root>", data, "a mapping", error)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise error(
            f"{where}{unknown[0]}: unknown key; allowed keys here: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _convert(key, value, hints[name], fields[name].metadata, error)
    try:
        return cls(**kwargs)
    except OpenClawError:
        raise
    except (TypeError, ValueError) as exc:
        raise error(f"{prefix or '<root>'}: {exc}") from exc


def field_paths(cls: type) -> dict[str, tuple[Any, Mapping[str, Any]]]:
    """Return every scalar setting of ``cls`` as ``dotted.key -> (type, metadata)``."""
    out: dict[str, tuple[Any, Mapping[str, Any]]] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            for sub, spec in field_paths(tp).items():
                out[f"{f.name}.{sub}"] = spec
        else:
            out[f.name] = (tp, f.metadata)
    return out

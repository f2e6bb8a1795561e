"""Permissions, roles and the endpoint -> permission map the HTTP layer consults."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..defaults import READY_PATH

__all__ = [
    "DEFAULT_ROLES",
    "PERMISSIONS",
    "ROUTES",
    "UNKNOWN_PERMISSION",
    "Endpoint",
    "RoleMap",
    "classify",
]

# The guide's permissions plus the runtime's own.
PERMISSIONS: frozenset[str] = frozenset(
    {
        "server:create",
        "server:reboot",
        "storage:read",
        "storage:write",
        "model:deploy",
        "monitor:view",
        "model:infer",
        "model:read",
        "keys:manage",
    }
)

DEFAULT_ROLES: Mapping[str, frozenset[str]] = {
    "deploy-operator": frozenset({"server:create", "server:reboot", "storage:read"}),
    "model-manager": frozenset({"storage:write", "model:deploy", "monitor:view"}),
    "inference-client": frozenset({"model:infer", "model:read"}),
    "observer": frozenset({"monitor:view"}),
    "admin": PERMISSIONS,
}


class RoleMap:
    """Resolves role names to permissions; configured roles add to or replace the defaults."""

    __slots__ = ("_roles",)

    def __init__(self, configured: Mapping[str, Iterable[str]] | None = None) -> None:
        roles = dict(DEFAULT_ROLES)
        for name, perms in (configured or {}).items():
            if isinstance(perms, str):
                raise TypeError(f"auth.roles.{name}: expected a list of permissions, got {perms!r}")
            perm_set = frozenset(perms)
            unknown = sorted(perm_set - PERMISSIONS)
            if unknown:
                raise ValueError(
                    f"auth.roles.{name}: unknown permission {unknown[0]!r}; "
                    f"allowed: {', '.join(sorted(PERMISSIONS))}"
                )
            roles[name] = perm_set
        self._roles = roles

    @property
    def names(self) -> frozenset[str]:
        """Return every known role name."""
        return frozenset(self._roles)

    def permissions(self, roles: Iterable[str]) -> frozenset[str]:
        """Return the union of the permissions of ``roles`` (unknown roles grant nothing)."""
        out: set[str] = set()
        for role in roles:
            out |= self._roles.get(role, frozenset())
        return frozenset(out)

    def unknown(self, roles: Iterable[str]) -> list[str]:
        """Return the role names in ``roles`` that are not defined."""
        return [r for r in roles if r not in self._roles]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What a request needs and what it names.

    ``permission`` is None only for the open endpoints (``open``); ``model`` is
    the model a key's model list restricts; ``route`` names the endpoint ("" =
    no known endpoint); ``target`` and ``version`` are the model and version
    the path names, decoded as the router decodes them (``target`` is also set
    for statistics, which a key's model list does not restrict). The HTTP edge
    validates ``target`` and ``version`` before any decision depends on them.
    """

    permission: str | None
    model: str | None = None
    open: bool = False
    route: str = ""
    target: str | None = None
    version: str | None = None


# Every route the server registers (http/handlers.py), in the router's own template
# syntax; a test checks that the two lists agree. An unknown path needs the admin-only
# permission: if this table and the router ever disagreed, the difference would be
# closed to every key but an admin's, never open to any key.
UNKNOWN_PERMISSION = "keys:manage"
_M = "/v2/models/{model}"
_V = _M + "/versions/{version}"
ROUTES: tuple[tuple[str, str, str, str | None], ...] = (
    ("POST", _M + "/infer", "infer", "model:infer"),
    ("POST", _V + "/infer", "infer", "model:infer"),
    ("GET", "/v2/health/live", "health", None),
    ("GET", READY_PATH, "health", None),
    ("GET", "/v2", "server", "model:read"),
    ("GET", "/v2/models/stats", "stats", "monitor:view"),
    ("GET", _M, "metadata", "model:read"),
    ("GET", _V, "metadata", "model:read"),
    ("GET", _M + "/ready", "ready", "model:read"),
    ("GET", _V + "/ready", "ready", "model:read"),
    ("GET", _M + "/config", "config", "model:read"),
    ("GET", _V + "/config", "config", "model:read"),
    ("GET", _M + "/stats", "stats", "monitor:view"),
    ("GET", _V + "/stats", "stats", "monitor:view"),
    ("POST", "/v2/repository/index", "index", "model:read"),
    ("POST", "/v2/repository/models/{model}/load", "load", "model:deploy"),
    ("POST", "/v2/repository/models/{model}/unload", "unload", "model:deploy"),
    ("GET", "/metrics", "metrics", "monitor:view"),
)


def _pattern(template: str) -> re.Pattern[str]:
    # aiohttp's dynamic segment is [^{}/]+, matched in full against the URL's path_safe.
    parts = re.split(r"\{(model|version)\}", template)
    out = ""
    for i, part in enumerate(parts):
        out += re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^{{}}/]+)"
    return re.compile(out)


_TABLE = tuple(
    (method, _pattern(template), route, perm) for method, template, route, perm in ROUTES
)


def _unquote(segment: str) -> str:
    # What aiohttp does to a matched segment: path_safe keeps %2F and %25 encoded.
    if "%" not in segment:
        return segment
    return segment.replace("%2F", "/").replace("%25", "%")


def classify(method: str, path: str) -> Endpoint:
    """Return what ``method path`` needs; ``path`` is the URL's ``path_safe``, as the router's.

    aiohttp matches routes on ``request.rel_url.path_safe`` (percent-decoded except
    %2F and %25) and then decodes those two in the segment it hands the handler;
    classifying the fully decoded ``request.path`` instead would see other routes
    than the ones that run. Health endpoints are open (load balancers,
    orchestrators); a path that is no known endpoint needs ``keys:manage``.
    """
    if method == "HEAD":
        method = "GET"
    for route_method, pattern, route, perm in _TABLE:
        if route_method != method:
            continue
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if perm is None:
            return Endpoint(None, open=True, route=route)
        groups = match.groupdict()
        target = groups.get("model")
        if target is not None:
            target = _unquote(target)
        version = groups.get("version")
        if version is not None:
            version = _unquote(version)
        # Statistics of any model are a monitoring view, not a model read.
        model = None if perm == "monitor:view" else target
        return Endpoint(perm, model, route=route, target=target, version=version)
    return Endpoint(UNKNOWN_PERMISSION)

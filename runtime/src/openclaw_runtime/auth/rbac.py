"""Permissions, roles and the endpoint -> permission map the HTTP layer consults."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "DEFAULT_ROLES",
    "PERMISSIONS",
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
    """What a request needs: a permission (None = open) and the model it targets, if any."""

    permission: str | None
    model: str | None = None
    open: bool = False


_M = r"/v2/models/(?P<model>[^/]+)(?:/versions/[^/]+)?"
_ROUTES: tuple[tuple[str, re.Pattern[str], str | None], ...] = tuple(
    (method, re.compile(pattern + r"/?$"), perm)
    for method, pattern, perm in (
        ("GET", r"^/v2/health/(?:live|ready)", None),
        ("GET", r"^/v2/models(?:/[^/]+(?:/versions/[^/]+)?)?/stats", "monitor:view"),
        ("GET", r"^/metrics", "monitor:view"),
        ("POST", r"^" + _M + r"/infer", "model:infer"),
        ("GET", r"^" + _M + r"(?:/ready|/config)?", "model:read"),
        ("GET", r"^/v2", "model:read"),
        ("POST", r"^/v2/repository/index", "model:read"),
        (
            "POST",
            r"^/v2/repository/models/(?P<model>[^/]+)/(?:load|unload)",
            "model:deploy",
        ),
    )
)


@lru_cache(maxsize=4096)
def classify(method: str, path: str) -> Endpoint:
    """Return the permission ``method path`` needs.

    Health endpoints are open (load balancers, orchestrators); every other
    path, known or not, needs at least a valid key, so that probing for routes
    without credentials only ever yields 401.
    """
    if method == "HEAD":
        method = "GET"
    for route_method, pattern, perm in _ROUTES:
        if route_method != method:
            continue
        match = pattern.match(path)
        if match is None:
            continue
        if perm is None:
            return Endpoint(None, open=True)
        model = match.groupdict().get("model")
        if perm == "monitor:view":
            model = None  # stats of any model are a monitoring view, not a model read
        return Endpoint(perm, model)
    return Endpoint(None)

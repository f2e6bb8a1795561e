"""Roles, permissions and the endpoint map."""

from __future__ import annotations

import pytest

from openclaw_runtime.auth import DEFAULT_ROLES, PERMISSIONS, RoleMap, classify


def test_guide_roles_and_runtime_roles():
    assert DEFAULT_ROLES["deploy-operator"] == {
        "server:create",
        "server:reboot",
        "storage:read",
    }
    assert DEFAULT_ROLES["model-manager"] == {
        "storage:write",
        "model:deploy",
        "monitor:view",
    }
    assert DEFAULT_ROLES["inference-client"] == {"model:infer", "model:read"}
    assert DEFAULT_ROLES["observer"] == {"monitor:view"}
    assert DEFAULT_ROLES["admin"] == PERMISSIONS


def test_role_resolution_unions_and_ignores_unknown():
    roles = RoleMap()
    assert roles.permissions(["observer", "inference-client"]) == {
        "monitor:view",
        "model:infer",
        "model:read",
    }
    assert roles.permissions(["nope"]) == frozenset()
    assert roles.unknown(["observer", "nope"]) == ["nope"]


def test_configured_roles_add_and_override():
    roles = RoleMap({"reader": ["model:read"], "observer": ["monitor:view", "model:read"]})
    assert roles.permissions(["reader"]) == {"model:read"}
    assert "model:read" in roles.permissions(["observer"])


def test_configured_role_with_unknown_permission_is_refused():
    with pytest.raises(ValueError, match="model:delete"):
        RoleMap({"bad": ["model:delete"]})


@pytest.mark.parametrize(
    ("method", "path", "perm", "model"),
    [
        ("POST", "/v2/models/digits/infer", "model:infer", "digits"),
        ("POST", "/v2/models/digits/versions/2/infer", "model:infer", "digits"),
        ("GET", "/v2/models/digits", "model:read", "digits"),
        ("GET", "/v2/models/digits/versions/1/ready", "model:read", "digits"),
        ("GET", "/v2/models/digits/config", "model:read", "digits"),
        ("GET", "/v2", "model:read", None),
        ("GET", "/v2/models/stats", "monitor:view", None),
        ("GET", "/v2/models/digits/stats", "monitor:view", None),
        ("GET", "/v2/models/digits/versions/1/stats", "monitor:view", None),
        ("GET", "/metrics", "monitor:view", None),
        ("POST", "/v2/repository/index", "model:read", None),
        ("POST", "/v2/repository/models/digits/load", "model:deploy", "digits"),
        ("POST", "/v2/repository/models/digits/unload", "model:deploy", "digits"),
    ],
)
def test_endpoint_permissions(method, path, perm, model):
    endpoint = classify(method, path)
    assert (endpoint.permission, endpoint.model, endpoint.open) == (perm, model, False)


@pytest.mark.parametrize("path", ["/v2/health/live", "/v2/health/ready"])
def test_health_is_open(path):
    assert classify("GET", path).open
    assert classify("HEAD", path).open


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin"),
        ("POST", "/v2/health/live"),
        ("GET", "/v2/models/digits/infer"),
        ("GET", "/v2/models/digits/"),
        ("POST", "/v2/models//digits/infer"),
        ("POST", "/v2/models/digits//infer"),
        ("POST", "/v2//models/digits/infer"),
    ],
)
def test_unknown_routes_need_the_admin_permission(method, path):
    endpoint = classify(method, path)
    assert (endpoint.open, endpoint.permission, endpoint.route) == (False, "keys:manage", "")


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/v2/models/secret%2F/infer", "secret/"),
        ("/v2/models/.%2Fsecret/infer", "./secret"),
        ("/v2/models/a%25b/infer", "a%b"),
    ],
)
def test_encoded_slash_is_one_segment_as_for_the_router(path, target):
    # path_safe keeps %2F and %25 encoded; the router decodes them in the matched segment.
    endpoint = classify("POST", path)
    assert (endpoint.permission, endpoint.route, endpoint.target) == (
        "model:infer",
        "infer",
        target,
    )

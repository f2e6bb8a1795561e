"""Auth against the real server: every role on every endpoint, 401/403/429, allow-lists, reload.

The matrix covers each endpoint's canonical path and its alias forms: a model
segment with an encoded slash or dot (``%2F``, ``%2f``, ``%2E%2E``) is a 400
for everyone, before any auth decision; a path with an extra or a dot segment
is no endpoint, so it needs the admin-only permission (and is a 404 for admin).
"""

from __future__ import annotations

import json
import signal
import subprocess

import pytest
import yaml

from openclaw_runtime.auth import DEFAULT_ROLES
from openclaw_runtime.models.demo import build_demo_model, demo_config

from .secserver import INFER_BODY, RuntimeServer, request

pytestmark = pytest.mark.integration

# (method, path, permission, body); unload is exercised separately (it changes state).
ENDPOINTS = [
    ("GET", "/v2", "model:read", None),
    ("GET", "/v2/models/digits", "model:read", None),
    ("GET", "/v2/models/digits/versions/1", "model:read", None),
    ("GET", "/v2/models/digits/ready", "model:read", None),
    ("GET", "/v2/models/digits/config", "model:read", None),
    ("POST", "/v2/models/digits/infer", "model:infer", INFER_BODY),
    ("POST", "/v2/models/digits/versions/1/infer", "model:infer", INFER_BODY),
    ("GET", "/v2/models/stats", "monitor:view", None),
    ("GET", "/v2/models/digits/stats", "monitor:view", None),
    ("GET", "/metrics", "monitor:view", None),
    ("POST", "/v2/repository/index", "model:read", None),
    ("POST", "/v2/repository/models/digits/load", "model:deploy", None),
]
LAZY = {"load": "on_demand"}

# Every endpoint that names a model, with {m} where the model segment goes.
MODEL_ENDPOINTS = [
    ("POST", "/v2/models/{m}/infer", INFER_BODY),
    ("POST", "/v2/models/{m}/versions/1/infer", INFER_BODY),
    ("GET", "/v2/models/{m}", None),
    ("GET", "/v2/models/{m}/versions/1", None),
    ("GET", "/v2/models/{m}/ready", None),
    ("GET", "/v2/models/{m}/config", None),
    ("GET", "/v2/models/{m}/stats", None),
    ("GET", "/v2/models/{m}/versions/1/stats", None),
    ("POST", "/v2/repository/models/{m}/load", None),
    ("POST", "/v2/repository/models/{m}/unload", None),
]
# One segment that the router decodes into a name with "/", "." or "%": always a 400.
ENCODED = [
    "secret%2F",
    "secret%2f",
    ".%2Fsecret",
    "%2E%2E%2Fsecret",
    "..%2Fsecret",
    "%2E%2E",
    "%2E",
    "secret%2F%2E%2E",
    "%2E%2E%2Foutside",
    "secret%252F",
]
# Extra or dot segments: no endpoint at all, so the admin-only permission (then 404).
STRUCTURAL = ["./secret", "secret/", "/secret"]


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_onnx):
    root = tmp_path_factory.mktemp("security")
    repo = root / "repo"
    build_demo_model(repo, onnx_bytes=demo_onnx)
    # An on-demand model (each alias used to load one more copy of it) and a model
    # beside the repository, which no path may reach.
    (repo / "secret").mkdir()
    (repo / "secret" / "config.yaml").write_text(yaml.safe_dump(demo_config() | LAZY))
    build_demo_model(repo, name="secret", onnx_bytes=demo_onnx)
    build_demo_model(root, name="outside", onnx_bytes=demo_onnx)
    srv = RuntimeServer(
        root / "server",
        repo,
        {"auth": {"trusted_proxies": ["127.0.0.3"], "max_failures": 3, "block_seconds": 30}},
    )
    issued = {role: srv.create_key(role, name=role) for role in DEFAULT_ROLES}
    srv.keys_by_role = {role: key["key"] for role, key in issued.items()}
    srv.ids_by_role = {role: key["id"] for role, key in issued.items()}
    srv.limited = srv.create_key(
        "inference-client", name="digits-only", extra=("--model", "digits")
    )["key"]
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.parametrize("role", sorted(DEFAULT_ROLES))
def test_each_role_on_each_endpoint(server, role):
    key = server.keys_by_role[role]
    perms = DEFAULT_ROLES[role]
    for method, path, perm, body in ENDPOINTS:
        status, headers, raw = request(server.port, method, path, key=key, body=body)
        if perm in perms:
            assert status == 200, (role, method, path, status, raw)
        else:
            assert status == 403, (role, method, path, status, raw)
            assert headers["content-type"] == "application/json"
            assert perm in json.loads(raw)["error"]


def _alias_paths():
    for method, template, body in MODEL_ENDPOINTS:
        for alias in ENCODED:
            yield method, template.replace("{m}", alias), body, "encoded"
        for alias in STRUCTURAL:
            yield method, template.replace("{m}", alias), body, "structural"
        yield method, "/" + template.replace("{m}", "secret"), body, "structural"
        yield method, template.replace("{m}", "secret").replace("/v2/", "/v2//"), body, "structural"


@pytest.mark.parametrize("role", [*sorted(DEFAULT_ROLES), None])
def test_each_role_on_each_alias_of_each_endpoint(server, role):
    key = server.keys_by_role[role] if role else None
    for n, (method, path, body, kind) in enumerate(_alias_paths()):
        # Without a key, one address per request: the failure cap (3 here) would answer 429.
        source = f"127.0.{1 + n // 250}.{1 + n % 250}" if role is None else "127.0.0.30"
        status, headers, raw = request(server.port, method, path, key=key, body=body, source=source)
        if kind == "encoded":
            # Refused at the edge, whoever asks: the message says what a name may be.
            expected = 400
        elif role is None:
            expected = 401
        else:
            expected = 404 if role == "admin" else 403
        assert status == expected, (role, method, path, status, raw)
        assert headers["content-type"] == "application/json", (role, path, raw)
        error = json.loads(raw)["error"]
        if expected == 400:
            assert "A-Z a-z 0-9 _ . -" in error, error
        elif expected == 403:
            assert "keys:manage" in error, error
    # No alias loaded a copy of the on-demand model or reached a deploy route.
    status, index = request(
        server.port, "POST", "/v2/repository/index", key=server.keys_by_role["admin"]
    )[::2]
    assert status == 200
    assert {e["name"] for e in json.loads(index)} == {"digits", "secret"}
    deploys = [e for e in server.audit_events() if e["event"].startswith("model.")]
    assert all(e["model"] in ("digits", "secret", "nope") for e in deploys), deploys


def test_version_aliases_are_400_with_the_allowed_form(server):
    key = server.keys_by_role["admin"]
    for version in ("1%2F", "%2E%2E", "1.0", "-1", "%D9%A1"):  # the last: Arabic-Indic one
        path = f"/v2/models/digits/versions/{version}/infer"
        status, _, raw = request(server.port, "POST", path, key=key, body=INFER_BODY)
        assert status == 400, (path, raw)
        assert "digits" in json.loads(raw)["error"]


def test_model_restricted_key_reaches_no_other_model_by_an_alias(server):
    key = server.limited
    ok = request(server.port, "POST", "/v2/models/digits/infer", key=key, body=INFER_BODY)
    assert ok[0] == 200, ok
    status, _, raw = request(
        server.port, "POST", "/v2/models/secret/infer", key=key, body=INFER_BODY
    )
    assert status == 403 and "may not use model" in json.loads(raw)["error"]
    for alias in (".%2Fsecret", "secret%2F", "secret%2f", "%2E%2Fsecret"):
        path = f"/v2/models/{alias}/infer"
        status, _, raw = request(server.port, "POST", path, key=key, body=INFER_BODY)
        assert status == 400, (path, status, raw)
    for path in ("/v2/models/./secret/infer", "/v2/models/secret//infer"):
        status, _, raw = request(server.port, "POST", path, key=key, body=INFER_BODY)
        assert status == 403 and "keys:manage" in json.loads(raw)["error"], (path, raw)


def test_encoded_dot_dot_reveals_nothing_outside_the_repository(server):
    key = server.keys_by_role["admin"]
    for path in (
        "/v2/models/..%2Foutside/config",
        "/v2/models/%2E%2E%2Foutside/config",
        "/v2/models/..%2Foutside",
        "/v2/models/..%2F..%2Fetc/config",
    ):
        status, _, raw = request(server.port, "GET", path, key=key)
        assert status == 400, (path, raw)
        error = json.loads(raw)["error"]
        assert "input" not in error and str(server.dir.parent) not in error, error


@pytest.mark.parametrize("role", sorted(DEFAULT_ROLES))
def test_each_role_on_the_deploy_routes_is_audited(server, role):
    key = server.keys_by_role[role]
    allowed = "model:deploy" in DEFAULT_ROLES[role]
    for action, event in (("unload", "model.unloaded"), ("load", "model.loaded")):
        before = len(server.audit_events())
        path = f"/v2/repository/models/secret/{action}"
        status, _, raw = request(server.port, "POST", path, key=key)
        events = [
            e for e in server.audit_events()[before:] if e["event"].startswith(("model.", "auth."))
        ]
        if allowed:
            assert status == 200, (role, path, raw)
            assert [(e["event"], e["name"], e["model"], e["status"]) for e in events] == [
                (event, role, "secret", 200)
            ]
        else:
            assert status == 403 and "model:deploy" in json.loads(raw)["error"], (role, raw)
            assert [(e["event"], e["key_id"], e["reason"]) for e in events] == [
                ("auth.denied", server.ids_by_role[role], "missing permission model:deploy")
            ]


def test_health_is_open(server):
    for path in ("/v2/health/live", "/v2/health/ready"):
        assert request(server.port, "GET", path)[0] == 200


def test_401_does_not_reveal_whether_a_key_id_exists(server):
    real = server.keys_by_role["admin"]
    unknown_id = "oc_" + "f" * 16 + real[19:]
    wrong_secret = real[:-2] + ("AA" if not real.endswith("AA") else "BB")
    bodies = set()
    # From four addresses: the failure cap (3 here) must not turn the last into a 429.
    for n, key in enumerate((None, "nonsense", unknown_id, wrong_secret)):
        status, headers, raw = request(
            server.port, "GET", "/v2/models/digits", key=key, source=f"127.0.0.{20 + n}"
        )
        assert status == 401 and headers["content-type"] == "application/json"
        bodies.add(raw)
    assert len(bodies) == 1
    assert "error" in json.loads(bodies.pop())
    assert real not in server.audit.read_text()


def test_x_api_key_header(server):
    key = server.keys_by_role["inference-client"]
    status, _, raw = request(
        server.port,
        "POST",
        "/v2/models/digits/infer",
        key=key,
        header="x-api-key",
        body=INFER_BODY,
    )
    assert status == 200, raw
    assert json.loads(raw)["model_name"] == "digits"


def test_unknown_route_without_key_is_401_not_404(server):
    assert request(server.port, "GET", "/admin", source="127.0.0.10")[0] == 401


def test_allow_list_from_second_loopback_address(server):
    seen = server.reloads()
    key = server.create_key("inference-client", name="lan", extra=("--cidr", "127.0.0.2/32"))
    server.wait_reloaded(seen)
    ok = request(
        server.port,
        "POST",
        "/v2/models/digits/infer",
        key=key["key"],
        body=INFER_BODY,
        source="127.0.0.2",
    )
    assert ok[0] == 200, ok
    denied = request(
        server.port,
        "POST",
        "/v2/models/digits/infer",
        key=key["key"],
        body=INFER_BODY,
        source="127.0.0.1",
    )
    assert denied[0] == 403 and b"address" in denied[2]
    events = server.audit_events("auth.denied")
    assert any(e["key_id"] == key["id"] and e["client"] == "127.0.0.1" for e in events)


def test_forwarded_for_only_from_trusted_proxy(server):
    seen = server.reloads()
    key = server.create_key("inference-client", name="via-lb", extra=("--cidr", "192.0.2.0/24"))
    server.wait_reloaded(seen)
    xff = {"X-Forwarded-For": "192.0.2.55"}
    via_proxy = request(
        server.port,
        "POST",
        "/v2/models/digits/infer",
        key=key["key"],
        body=INFER_BODY,
        source="127.0.0.3",
        headers=xff,
    )
    assert via_proxy[0] == 200, via_proxy
    spoofed = request(
        server.port,
        "POST",
        "/v2/models/digits/infer",
        key=key["key"],
        body=INFER_BODY,
        source="127.0.0.1",
        headers=xff,
    )
    assert spoofed[0] == 403


def test_key_created_revoked_and_rotated_without_restart(server):
    seen = server.reloads()
    issued = server.create_key("observer", name="late")
    server.wait_reloaded(seen)
    assert request(server.port, "GET", "/metrics", key=issued["key"], source="127.0.0.12")[0] == 200
    seen = server.reloads()
    rotated = json.loads(server.keys("rotate", issued["id"], "--json").stdout)
    server.wait_reloaded(seen)
    assert request(server.port, "GET", "/metrics", key=rotated["key"])[0] == 200
    assert request(server.port, "GET", "/metrics", key=issued["key"])[0] == 200  # grace
    seen = server.reloads()
    server.keys("revoke", issued["id"])
    server.wait_reloaded(seen)
    assert request(server.port, "GET", "/metrics", key=issued["key"], source="127.0.0.11")[0] == 401
    assert request(server.port, "GET", "/metrics", key=rotated["key"])[0] == 200


def test_failed_auth_cap_gives_429_with_retry_after(server):
    bad = "oc_" + "0" * 16 + "_" + "A" * 43
    for _ in range(3):
        assert request(server.port, "GET", "/v2", key=bad, source="127.0.0.4")[0] == 401
    status, headers, raw = request(
        server.port, "GET", "/v2", key=server.keys_by_role["admin"], source="127.0.0.4"
    )
    assert status == 429
    assert 1 <= int(headers["retry-after"]) <= 30
    assert "error" in json.loads(raw)
    assert request(server.port, "GET", "/v2", key=server.keys_by_role["admin"])[0] == 200


def test_model_load_and_unload_audited_with_key(server):
    key = server.keys_by_role["model-manager"]
    status, _, raw = request(server.port, "POST", "/v2/repository/models/digits/unload", key=key)
    assert status == 200, raw
    status, _, raw = request(server.port, "POST", "/v2/repository/models/digits/load", key=key)
    assert status == 200, raw
    # A refused load is audited too, with the status the caller got.
    status, _, raw = request(server.port, "POST", "/v2/repository/models/nope/load", key=key)
    assert status == 404, raw
    events = [e for e in server.audit_events() if e["event"].startswith("model.")]
    kinds = [(e["event"], e["name"], e["model"], e["status"]) for e in events[-3:]]
    assert kinds == [
        ("model.unloaded", "model-manager", "digits", 200),
        ("model.loaded", "model-manager", "digits", 200),
        ("model.loaded", "model-manager", "nope", 404),
    ]


def test_sighup_reloads_at_once_in_every_worker(tmp_path, demo_repo):
    srv = RuntimeServer(
        tmp_path / "srv",
        demo_repo,
        {"auth": {"reload_interval_seconds": 3600}, "server": {"workers": 2}},
    )
    srv.create_key("observer", name="first")
    srv.start()
    try:
        late = srv.create_key("observer", name="late")
        # No poll for an hour: without SIGHUP the new key stays unknown.
        assert request(srv.port, "GET", "/metrics", key=late["key"], source="127.0.0.13")[0] == 401
        seen = srv.reloads()
        srv.signal(signal.SIGHUP)
        srv.wait_reloaded(seen)  # one audited reload per worker
        # New connections spread over both workers (SO_REUSEPORT): each one reloaded.
        statuses = {
            request(srv.port, "GET", "/metrics", key=late["key"], source="127.0.0.15")[0]
            for _ in range(30)
        }
        assert statuses == {200}
        assert srv.proc.poll() is None  # SIGHUP did not kill the server
    finally:
        assert srv.stop() == 0


def test_refuses_to_start_with_wrong_store_key(tmp_path, demo_repo):
    srv = RuntimeServer(tmp_path / "srv", demo_repo)
    srv.create_key("admin", name="admin")
    srv.fernet_file.write_bytes(__import__("cryptography.fernet").fernet.Fernet.generate_key())
    proc = subprocess.run([*srv_cmd(srv)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "cannot decrypt key store" in proc.stderr and "Fernet key" in proc.stderr


def test_auth_disabled_explicitly_warns(tmp_path, demo_repo):
    srv = RuntimeServer(tmp_path / "srv", demo_repo, {"auth": {"enabled": False}})
    srv.start()
    try:
        status, _, _ = request(srv.port, "POST", "/v2/models/digits/infer", body=INFER_BODY)
        assert status == 200
        assert "authentication is DISABLED" in srv.log_text()
    finally:
        srv.stop()


def srv_cmd(srv: RuntimeServer) -> list[str]:
    from .secserver import PY

    return [PY, "-m", "openclaw_runtime.cli", "serve", "--config", str(srv.config)]

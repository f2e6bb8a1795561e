"""The real server behind a trusted proxy: every X-Forwarded-For line, allow-list denials.

127.0.0.3 plays the load balancer. HAProxy's ``option forwardfor`` appends its
own ``X-Forwarded-For`` line after any the client sent, so a request through it
carries the client's forged line first and the real address last.
"""

from __future__ import annotations

import ast
import http.client
import json
import subprocess

import pytest

from .secserver import INFER_BODY, RuntimeServer, ensure_debian_package, request

pytestmark = pytest.mark.integration

PROXY = "127.0.0.3"
BAD_KEY = "oc_" + "2" * 16 + "_" + "C" * 43


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_onnx):
    from openclaw_runtime.models.demo import build_demo_model

    root = tmp_path_factory.mktemp("proxy")
    build_demo_model(root / "repo", onnx_bytes=demo_onnx)
    srv = RuntimeServer(
        root / "server",
        root / "repo",
        {"auth": {"trusted_proxies": [PROXY], "max_failures": 3, "block_seconds": 30}},
    )
    srv.admin = srv.create_key("admin", name="admin")["key"]
    srv.remote = srv.create_key(
        "inference-client", name="remote", extra=("--cidr", "198.51.100.0/24")
    )
    srv.lan = srv.create_key("inference-client", name="lan", extra=("--cidr", "127.0.0.2/32"))
    srv.start()
    yield srv
    srv.stop()


def via_proxy(port: int, key: str | None, forwarded: list[str]) -> int:
    """POST an inference from the proxy's address with one X-Forwarded-For line per item."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(PROXY, 0))
    try:
        body = json.dumps(INFER_BODY).encode()
        conn.putrequest("POST", "/v2/models/digits/infer")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(body)))
        if key is not None:
            conn.putheader("Authorization", f"Bearer {key}")
        for line in forwarded:
            conn.putheader("X-Forwarded-For", line)
        conn.endheaders(body)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def banned_by_fail2ban(audit) -> list[str]:
    """Return the addresses the shipped filter finds in the audit log (one per match)."""
    from .test_security_fail2ban import FILTER

    binary = ensure_debian_package("fail2ban-regex", "fail2ban")
    out = subprocess.run(
        [binary, "-o", "row", str(audit), str(FILTER)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [ast.literal_eval(ln.rstrip(","))[0] for ln in out.splitlines() if ln.startswith("[")]


def test_a_forged_first_line_does_not_pass_the_allow_list(server):
    key = server.remote["key"]
    # The client at 203.0.113.9 claims 198.51.100.7; the proxy's line says who it is.
    assert via_proxy(server.port, key, ["198.51.100.7", "203.0.113.9"]) == 403
    # The client really at 198.51.100.7 is let in whatever it put first.
    assert via_proxy(server.port, key, ["203.0.113.9", "198.51.100.7"]) == 200
    assert via_proxy(server.port, key, ["198.51.100.7"]) == 200
    denied = server.audit_events("auth.denied")
    assert [(e["client"], e["key_id"]) for e in denied] == [("203.0.113.9", server.remote["id"])]


def test_the_proxy_is_never_blocked_nor_banned_for_its_clients(server):
    # A client at 203.0.113.20 guesses keys and forges the proxy's own address first.
    for _ in range(3):
        assert via_proxy(server.port, BAD_KEY, [PROXY, "203.0.113.20"]) == 401
    assert via_proxy(server.port, server.admin, [PROXY, "203.0.113.20"]) == 429  # it is blocked
    # ...and nobody else: another client through the proxy, and the proxy's own requests.
    assert via_proxy(server.port, server.admin, ["203.0.113.21"]) == 200
    assert via_proxy(server.port, server.admin, []) == 200
    # A bad key straight from the proxy (no X-Forwarded-For) names no client.
    assert via_proxy(server.port, BAD_KEY, []) == 401
    failed = server.audit_events("auth.failed")
    assert [e["client"] for e in failed] == ["203.0.113.20"] * 3 + ["unknown"]
    assert failed[-1]["via"] == PROXY
    assert all(e.get("client") != PROXY for e in server.audit_events())
    banned = banned_by_fail2ban(server.audit)
    assert PROXY not in banned and banned.count("203.0.113.20") == 3


def address_failures(server) -> float:
    """Return openclaw_auth_failures_total{reason="address_not_allowed"} from /metrics."""
    status, _, raw = request(server.port, "GET", "/metrics", key=server.admin)
    assert status == 200
    name = 'openclaw_auth_failures_total{reason="address_not_allowed"} '
    found = [ln for ln in raw.decode().splitlines() if ln.startswith(name)]
    return float(found[0].split()[-1]) if found else 0.0


def test_a_valid_key_from_outside_its_allow_list_counts_as_a_failure(server):
    source = "127.0.0.41"
    before = address_failures(server)
    for _ in range(3):
        status, _, raw = request(
            server.port,
            "POST",
            "/v2/models/digits/infer",
            key=server.lan["key"],
            body=INFER_BODY,
            source=source,
        )
        assert status == 403 and b"address" in raw
    # Blocked now, even with another key.
    status, headers, _ = request(server.port, "GET", "/v2", key=server.admin, source=source)
    assert status == 429 and 1 <= int(headers["retry-after"]) <= 30
    assert any(e["client"] == source for e in server.audit_events("auth.blocked"))
    assert banned_by_fail2ban(server.audit).count(source) == 3
    assert address_failures(server) == before + 3

"""The load balancer's brute-force ban, run for real: the role's haproxy.cfg
(rendered by its own template) in Debian's HAProxy, in front of a stand-in
replica that answers 401 to a wrong key. Clients come from distinct loopback
addresses, so one can be banned while another is still served; the ban is
read and lifted through the runtime API, as the role's README tells
operators to. The molecule scenario `cluster` repeats it through the whole
fleet, with the real runtime behind.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from roletasks import free_port, render_loadbalancer, start_server, stop_server

GOOD_KEY = "good-key"


class _Replica(BaseHTTPRequestHandler):
    """Stand-in runtime replica: ready, and 401 unless the key is GOOD_KEY."""

    def do_GET(self):
        ok = self.path == "/v2/health/ready" or (
            self.headers.get("Authorization") == f"Bearer {GOOD_KEY}"
        )
        body = b'{"ready": true}' if ok else b'{"error": "unauthorized"}'
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def replica():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Replica)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def _haproxy(tmp: Path, replica_port: int, **ban) -> tuple[int, Path, str]:
    """Start HAProxy with the role's config; return its HTTPS port, admin socket and config."""
    assert shutil.which("haproxy"), (
        "HAProxy is missing: make bootstrap installs it (requirements/apt.txt)"
    )
    pem = tmp / "lb.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(tmp / "lb.key"), "-out", str(tmp / "lb.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    pem.write_text((tmp / "lb.crt").read_text() + (tmp / "lb.key").read_text())
    https, socket_path = free_port(), tmp / "admin.sock"
    inventory = {
        "all": {
            "children": {
                "openclaw": {
                    "hosts": {
                        "rt": {
                            "ansible_host": "127.0.0.1",
                            "openclaw_runtime_port_base": replica_port,
                            "openclaw_runtime_replicas": 1,
                            "openclaw_loadbalancer_max_replicas_per_host": 1,
                        }
                    }
                }
            }
        }
    }
    play_vars = {
        "openclaw_loadbalancer_bind_address": "127.0.0.1",
        "openclaw_loadbalancer_http_port": free_port(),
        "openclaw_loadbalancer_https_port": https,
        "openclaw_loadbalancer_metrics_port": free_port(),
        "openclaw_loadbalancer_check_interval_ms": 200,
        **ban,
    }
    internal = {
        "__openclaw_loadbalancer_cert": str(pem),
        "__openclaw_loadbalancer_admin_socket": str(socket_path),
    }
    _, cfg = render_loadbalancer(tmp, inventory, play_vars, internal)
    check = subprocess.run(
        ["haproxy", "-c", "-f", str(tmp / "haproxy.cfg")],
        check=False,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    return https, socket_path, cfg


def _get(port: int, source: str, key: str) -> int | str:
    """Status of GET /v2/models/m over TLS from loopback address SOURCE, or the error's name."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(
        "127.0.0.1", port, timeout=5, context=context, source_address=(source, 0)
    )
    try:
        conn.request("GET", "/v2/models/m", headers={"Authorization": f"Bearer {key}"})
        return conn.getresponse().status
    except (OSError, http.client.HTTPException) as err:
        return type(err).__name__
    finally:
        conn.close()


def _admin(socket_path: Path, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(socket_path))
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


@pytest.fixture
def balancer(tmp_path, replica):
    started = []

    def start(**ban):
        https, admin, cfg = _haproxy(tmp_path, replica, **ban)
        proc = start_server(
            ["haproxy", "-db", "-f", str(tmp_path / "haproxy.cfg")],
            ("127.0.0.1", https), tmp_path / "haproxy.log", "haproxy",
        )  # fmt: skip
        started.append(proc)
        # The replica is up before the test's first request (health checks every 200 ms).
        for _ in range(50):
            if _get(https, "127.0.0.9", GOOD_KEY) == 200:
                break
            threading.Event().wait(0.1)
        return https, admin, cfg

    yield start
    for proc in started:
        stop_server(proc)


def test_a_brute_forcing_client_is_banned_and_others_still_served(balancer):
    port, admin, _ = balancer(openclaw_loadbalancer_ban_maxretry=3)
    attacker, bystander = "127.0.0.2", "127.0.0.3"
    assert [_get(port, attacker, "wrong") for _ in range(3)] == [401, 401, 401]
    # The third failure banned it: refused before TLS, whatever key it sends now.
    refused = _get(port, attacker, GOOD_KEY)
    assert refused != 200 and isinstance(refused, str), refused
    assert _get(port, bystander, GOOD_KEY) == 200
    # A bystander's own failures count apart from the attacker's.
    assert _get(port, bystander, "wrong") == 401
    assert _get(port, bystander, GOOD_KEY) == 200
    table = _admin(admin, "show table openclaw_https")
    banned = [line for line in table.splitlines() if "::ffff:127.0.0.2 " in line]
    assert banned and "gpt0=1" in banned[0], table
    assert "gpt0=1" not in next(line for line in table.splitlines() if "::ffff:127.0.0.3 " in line)
    # The runtime API lifts the ban, as the README says.
    _admin(admin, "clear table openclaw_https key ::ffff:127.0.0.2")
    assert _get(port, attacker, GOOD_KEY) == 200


def test_successful_requests_never_ban(balancer):
    port, _, _ = balancer(openclaw_loadbalancer_ban_maxretry=2)
    assert {_get(port, "127.0.0.4", GOOD_KEY) for _ in range(10)} == {200}


def test_ignored_clients_are_never_banned(balancer):
    port, _, cfg = balancer(
        openclaw_loadbalancer_ban_maxretry=2, openclaw_loadbalancer_ban_ignore=["127.0.0.5/32"]
    )
    assert "acl openclaw_ban_ignored src 127.0.0.5/32" in cfg
    assert {_get(port, "127.0.0.5", "wrong") for _ in range(6)} == {401}
    assert _get(port, "127.0.0.5", GOOD_KEY) == 200
    assert [_get(port, "127.0.0.6", "wrong") for _ in range(2)] == [401, 401]
    assert isinstance(_get(port, "127.0.0.6", GOOD_KEY), str)


def test_the_ban_can_be_switched_off(balancer):
    port, _, cfg = balancer(
        openclaw_loadbalancer_ban_enabled=False, openclaw_loadbalancer_ban_maxretry=1
    )
    assert "stick-table" not in cfg
    assert {_get(port, "127.0.0.7", "wrong") for _ in range(4)} == {401}
    assert _get(port, "127.0.0.7", GOOD_KEY) == 200

"""Behaviour of openclaw_loadbalancer and openclaw_redis (scenario loadbalancer).

Network checks run from the controller (outside the firewall's allowed
sources: it may reach 80/443 only); host checks run on the test hosts. The
backends are stand-ins (standin.py): 2 replicas on Debian 12, 1 on Debian 13.
"""

import http.client
import json
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "_shared"))
from polling import wait_for

HOSTS = ["loadbalancer-debian12", "loadbalancer-debian13"]
SOCKET = "/run/haproxy/admin.sock"


def _ip(host):
    return host.check_output("hostname -I").split()[0]


def _other(host):
    return next(h for h in HOSTS if h != host.check_output("hostname"))


def _api(host, command):
    return host.check_output(f"echo {command!r} | socat stdio {SOCKET}")


def _ctx(min_version=None, max_version=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if min_version:
        ctx.minimum_version = min_version
    if max_version:
        ctx.maximum_version = max_version
    return ctx


def _get(ip, path="/", headers=None, conn=None):
    conn = conn or http.client.HTTPSConnection(ip, 443, timeout=10, context=_ctx())
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    return resp.status, resp.read(), resp


def _server_states(host):
    """name -> operational state (0 stopped, 2 running) and admin state from `show servers state`."""
    lines = _api(host, "show servers state openclaw_runtime").splitlines()
    header = lines[1].lstrip("# ").split()
    rows = [dict(zip(header, line.split(), strict=False)) for line in lines[2:] if line.strip()]
    return {r["srv_name"]: r for r in rows}


def test_config_is_valid(host):
    assert host.run("haproxy -c -f /etc/haproxy/haproxy.cfg").rc == 0


def test_backend_slots_follow_the_contract(host):
    states = _server_states(host)
    # 2 hosts x 2 colours x 4 slots; blue 1-2 on debian12 and blue 1 on debian13 enabled.
    assert len(states) == 16
    enabled = {n for n, r in states.items() if int(r["srv_admin_state"]) & 1 == 0}
    assert enabled == {
        "loadbalancer-debian12-blue-1",
        "loadbalancer-debian12-blue-2",
        "loadbalancer-debian13-blue-1",
    }
    assert states["loadbalancer-debian13-green-2"]["srv_port"] == "8102"


def test_http_redirects_to_https(host):
    conn = http.client.HTTPConnection(_ip(host), 80, timeout=10)
    conn.request("GET", "/v2/models?x=1")
    resp = conn.getresponse()
    assert resp.status == 301
    assert resp.getheader("Location").startswith("https://")


def test_tls_versions(host):
    ip = _ip(host)
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        with socket.create_connection((ip, 443), 10) as raw:
            with _ctx(version, version).wrap_socket(raw) as tls:
                assert tls.version() == version.name.replace("_", ".")
    # The client allows TLS 1.1 (security level 0), so the refusal is the server's.
    old = _ctx(ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1)
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with socket.create_connection((ip, 443), 10) as raw:
        with pytest.raises(ssl.SSLError) as refused:
            old.wrap_socket(raw)
    assert "PROTOCOL_VERSION" in str(refused.value).upper()


def test_forged_x_forwarded_for_does_not_survive(host):
    status, body, _ = _get(_ip(host), "/echo", {"X-Forwarded-For": "203.0.113.66"})
    assert status == 200
    xff = json.loads(body)["xff"]
    assert len(xff) == 1 and "203.0.113.66" not in xff[0]


def test_health_check_marks_a_backend_down_and_up(host):
    name = f"{host.check_output('hostname')}-blue-1"
    down = "/run/openclaw-standin/8001.down"
    host.check_output(f"touch {down}")
    try:
        assert wait_for(lambda: _server_states(host)[name]["srv_op_state"] == "0", 30)
    finally:
        host.check_output(f"rm -f {down}")
    assert wait_for(lambda: _server_states(host)[name]["srv_op_state"] == "2", 30)


def test_a_request_survives_a_backend_refusing_connections(host):
    """Health checks off for one server, its stand-in stopped: every request still answers,
    and HAProxy's retry counter shows the refused connections were retried elsewhere."""
    me = host.check_output("hostname")
    name = f"{me}-blue-2" if me.endswith("12") else f"{me}-blue-1"
    port = 8002 if me.endswith("12") else 8001
    ip = _ip(host)

    def retries():
        stat = _api(host, "show stat").splitlines()
        header = stat[0].lstrip("# ").split(",")
        for line in stat[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == "openclaw_runtime" and row.get("svname") == "BACKEND":
                return int(row["wretr"] or 0) + int(row["wredis"] or 0)
        raise AssertionError(stat)

    _api(host, f"disable health openclaw_runtime/{name}")
    before = retries()
    host.check_output(f"systemctl stop openclaw-standin@{port}")
    try:
        statuses = [_get(ip, f"/r{i}")[0] for i in range(30)]
    finally:
        host.check_output(f"systemctl start openclaw-standin@{port}")
        _api(host, f"enable health openclaw_runtime/{name}")
    assert statuses == [200] * 30
    assert retries() > before


def test_reload_keeps_an_open_keep_alive_connection(host):
    conn = http.client.HTTPSConnection(_ip(host), 443, timeout=10, context=_ctx())
    assert _get(_ip(host), "/before", conn=conn)[0] == 200
    old = host.check_output("systemctl show -p MainPID --value haproxy")
    loaded = "journalctl -u haproxy -o cat | grep -c 'Loading success' || true"
    before = int(host.check_output(loaded))
    host.check_output("systemctl reload haproxy")
    # A new worker took over (a failed reload would leave the old one serving).
    assert wait_for(lambda: int(host.check_output(loaded)) > before, 30)
    status, _, _ = _get(_ip(host), "/after", conn=conn)
    assert status == 200
    assert host.check_output("systemctl show -p MainPID --value haproxy") == old
    conn.close()


def test_runtime_api_and_metrics(host):
    assert "openclaw_runtime" in _api(host, "show servers state")
    ip = _ip(host)
    out = host.check_output(
        f"python3 -c \"import urllib.request; print(urllib.request.urlopen('http://{ip}:8404/metrics').read().decode())\""
    )
    assert "haproxy_backend_status" in out and "haproxy_server_check_status" in out


def _redis_cli(host, target, password=None, *args):
    env = f"REDISCLI_AUTH={password} " if password else ""
    return host.run(f"{env}timeout 5 redis-cli -h {target} {' '.join(args)}")


def _password(host):
    keys = Path(__file__).resolve().parents[3] / "artifacts" / "molecule" / "loadbalancer" / "keys"
    return (keys / f"{host.check_output('hostname')}-redis.password").read_text().strip()


def test_redis_requires_auth_and_is_a_cache(host):
    pw = _password(host)
    noauth = _redis_cli(host, "127.0.0.1", None, "PING")
    assert "NOAUTH" in noauth.stdout + noauth.stderr
    assert _redis_cli(host, "127.0.0.1", pw, "PING").stdout.strip() == "PONG"
    policy = _redis_cli(host, "127.0.0.1", pw, "CONFIG", "GET", "maxmemory-policy").stdout.split()
    assert policy == ["maxmemory-policy", "allkeys-lru"]
    assert _redis_cli(host, "127.0.0.1", pw, "CONFIG", "GET", "save").stdout.split() == ["save"]
    assert (
        _redis_cli(host, "127.0.0.1", pw, "CONFIG", "GET", "appendonly").stdout.split()[1] == "no"
    )


def test_redis_and_replicas_reachable_from_allowed_addresses_only(host):
    ip = _ip(host)
    # From the other test host (a runtime host): allowed.
    pong = subprocess.run(
        [
            "docker",
            "exec",
            "-e",
            f"REDISCLI_AUTH={_password(host)}",
            _other(host),
            "timeout",
            "5",
            "redis-cli",
            "-h",
            ip,
            "PING",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert pong.stdout.strip() == "PONG", pong.stdout + pong.stderr
    # From the controller: dropped by the firewall (Redis and the replica ports), 443 open.
    for port in (6379, 8001):
        with pytest.raises(OSError):
            socket.create_connection((ip, port), 3).close()
    socket.create_connection((ip, 443), 3).close()

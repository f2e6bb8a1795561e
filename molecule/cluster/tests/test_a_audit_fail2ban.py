"""The runtime's audit trail on each runtime host of the fleet and fail2ban's
openclaw-auth jail end to end: every replica appends to
/var/log/openclaw/audit.log, logrotate rotates it and the replicas reopen it.
A client outside the firewall's sources cannot reach a replica port at all;
admitted, it brute-forces API keys against a Docker-published replica port
and is banned before Docker's DNAT, so its connections to the published
ports fail while a bystander still gets answers. (Through the load balancer
the ban is the load balancer's: test_b_cluster.py.)"""

import json
import uuid

import pytest
from attacker import attacker, scenario_network
from polling import wait_for

AUDIT_LOG = "/var/log/openclaw/audit.log"
PORTS = (8001, 8002)
# The runtime hosts only.
testinfra_hosts = ["ansible://openclaw"]
# The firewall's chain for Docker-published ports (openclaw_firewall).
DOCKER_CHAIN = "OPENCLAW-DOCKER"


def _name(host):
    return host.backend.get_hostname()


def _image_uid(host):
    user = host.check_output("docker inspect -f '{{.Config.User}}' openclaw/runtime:0.1.0")
    return int(user.split(":")[0])


def _audit_lines(host, path=AUDIT_LOG):
    out = host.check_output("cat %s", path)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


_BAD_KEY_REQUEST = """
import sys, urllib.error, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"X-API-Key": "not-a-key"})
try:
    print(urllib.request.urlopen(req, timeout=5).status)
except urllib.error.HTTPError as err:
    print(err.code)
"""


def _bad_key_request(host, port, marker):
    """One failed authentication against a replica, from the host itself; returns the HTTP code."""
    url = f"http://127.0.0.1:{port}/v2/models/{marker}"
    return host.check_output("python3 -c %s %s", _BAD_KEY_REQUEST, url)


def _lines_with(host, marker, path=AUDIT_LOG):
    return [
        line
        for line in _audit_lines(host, path)
        if line.get("event") == "auth.failed" and marker in line.get("path", "")
    ]


def test_audit_log_is_a_host_file_owned_by_the_runtime_user(host):
    log = host.file(AUDIT_LOG)
    assert log.is_file
    assert log.uid == _image_uid(host) != 0
    assert log.mode == 0o640
    directory = host.file("/var/log/openclaw")
    # The directory stays root's: a replica can append to its log, nothing more.
    assert (directory.uid, directory.mode) == (0, 0o755)
    settings = host.check_output("cat /etc/openclaw/runtime.yaml")
    assert f"audit_log: {AUDIT_LOG}" in settings
    for replica in ("openclaw-runtime-1", "openclaw-runtime-2"):
        mounts = json.loads(host.check_output("docker inspect -f '{{json .Mounts}}' %s", replica))
        audit = [m for m in mounts if m["Destination"] == "/var/log/openclaw"]
        assert audit and audit[0]["RW"] is True, mounts
        assert json.loads(
            host.check_output("docker inspect -f '{{json .HostConfig.ReadonlyRootfs}}' %s", replica)
        )


def test_every_replica_appends_auth_failures_to_the_one_file(host):
    marker = f"witness-{uuid.uuid4().hex[:8]}"
    for port in PORTS:
        assert _bad_key_request(host, port, f"{marker}-{port}") == "401"
    assert wait_for(lambda: len(_lines_with(host, marker)) == 2, timeout=10), _audit_lines(host)[
        -5:
    ]
    for line in _lines_with(host, marker):
        # The stable prefix the fail2ban filter relies on, then the details.
        assert list(line)[:3] == ["ts", "event", "client"]
        assert line["reason"]
        assert "not-a-key" not in json.dumps(line)
    # The audit events are no longer on the replicas' stderr (their own log
    # still names the refused request, as a log line, not an audit event).
    for replica in ("openclaw-runtime-1", "openclaw-runtime-2"):
        logs = host.check_output("docker logs %s 2>&1", replica)
        assert not [
            line for line in logs.splitlines() if marker in line and '"event":"auth.failed"' in line
        ]


def test_logrotate_rotates_the_log_and_the_replicas_reopen_it(host):
    before = _bad_key_request(host, PORTS[0], "before-rotation")
    assert before == "401"
    old_inode = host.file(AUDIT_LOG).inode
    host.check_output("logrotate --force /etc/logrotate.d/openclaw-runtime")
    rotated = host.file(AUDIT_LOG + ".1")
    assert rotated.is_file and rotated.inode == old_inode
    new = host.file(AUDIT_LOG)
    assert new.inode != old_inode
    assert (new.uid, new.mode) == (_image_uid(host), 0o640)
    # The replicas got SIGHUP and still run; test_runtime.py's crash test
    # (after this file) shows they are still restarted after a crash.
    for replica in ("openclaw-runtime-1", "openclaw-runtime-2"):
        assert host.docker(replica).is_running
    marker = f"after-rotation-{uuid.uuid4().hex[:8]}"
    # The postrotate SIGHUP reaches each replica's workers: new lines land in the new file.
    for port in PORTS:
        assert wait_for(
            lambda p=port: (
                _bad_key_request(host, p, f"{marker}-{p}") == "401"
                and _lines_with(host, f"{marker}-{p}")
            ),
            timeout=20,
        ), _audit_lines(host)[-5:]
    assert not _lines_with(host, marker, AUDIT_LOG + ".1")


def test_the_jail_reads_the_audit_log_and_bans_before_docker_dnat(host):
    assert host.check_output("fail2ban-client get openclaw-auth logpath").find(AUDIT_LOG) >= 0
    actions = host.check_output("fail2ban-client get openclaw-auth actions")
    assert "openclaw-prerouting-nftables" in actions


@pytest.fixture
def target(host):
    """The test host's address on the scenario network."""
    return host.check_output("ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1")


def test_key_brute_force_on_a_published_port_is_banned_and_others_still_served(host, target):
    network = scenario_network(__file__)
    with attacker(network, "rt") as bad, attacker(network, "rt") as good:
        # The replica ports admit the load balancer and the controller only.
        outside = bad.sh(
            f"curl -s -o /dev/null --max-time 3 http://{target}:{PORTS[0]}/v2/health/ready",
            timeout=20,
        )
        assert outside.returncode != 0, outside
        # Admitted as a direct client (an operator's extra source), ahead of the firewall's drop.
        for client in (bad.address, good.address):
            host.check_output(f"iptables -I {DOCKER_CHAIN} 1 -s {client} -j RETURN")
        status = ""
        try:
            for _ in range(10):
                status = host.check_output("fail2ban-client status openclaw-auth")
                if bad.address in status:
                    break
                bad.sh(
                    "curl -s -o /dev/null --max-time 5 -H 'Authorization: Bearer wrong-key' "
                    f"http://{target}:{PORTS[0]}/v2/models/digits",
                    timeout=20,
                )
            assert wait_for(
                lambda: bad.address in host.check_output("fail2ban-client status openclaw-auth")
            ), host.check_output("fail2ban-client status openclaw-auth")
            # The failures came through Docker's DNAT with the attacker's own address.
            assert any(line.get("client") == bad.address for line in _audit_lines(host))
            # The ban sits in the prerouting chain, before the DNAT of the published ports.
            chain = host.check_output("nft list chain inet f2b-table f2b-prerouting")
            assert "hook prerouting" in chain
            assert bad.address in host.check_output(
                "nft list set inet f2b-table addr-set-openclaw-auth"
            )
            for port in PORTS:
                blocked = bad.sh(
                    f"curl -s -o /dev/null --max-time 5 http://{target}:{port}/v2/health/ready",
                    timeout=20,
                )
                assert blocked.returncode != 0, (port, blocked)
                served = good.sh(
                    "curl -s -o /dev/null -w '%{http_code}' --max-time 5 "
                    f"http://{target}:{port}/v2/health/ready",
                    timeout=20,
                )
                assert served.stdout == "200", (port, served)
            assert good.address not in host.check_output("fail2ban-client status openclaw-auth")
            host.run("fail2ban-client set openclaw-auth unbanip %s", bad.address)
            # Unbanned, the attacker's address is served again (the ban was the only block).
            assert wait_for(
                lambda: (
                    bad.sh(
                        "curl -s -o /dev/null -w '%{http_code}' --max-time 5 "
                        f"http://{target}:{PORTS[0]}/v2/health/ready",
                        timeout=20,
                    ).stdout
                    == "200"
                ),
                timeout=15,
            )
        finally:
            host.run("fail2ban-client set openclaw-auth unbanip %s", bad.address)
            for client in (bad.address, good.address):
                host.run(f"iptables -D {DOCKER_CHAIN} -s {client} -j RETURN")

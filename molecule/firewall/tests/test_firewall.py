"""Behaviour of openclaw_firewall, seen from outside: a real nmap scan.

An attacker container on the scenario's network scans both hosts; the other
test host is the one "internal" source. Published container ports are the
container's ports from prepare.yml (443 allowed, 8000 internal, 8081 not):
a real Docker engine and container on the Debian 12 host, Docker's DNAT and
chains emulated around a network namespace on the Debian 13 host.
"""

import re
import subprocess
import time
import uuid

import pytest

NETWORK = "openclaw-mol-firewall"
HOSTS = ["firewall-debian12", "firewall-debian13"]
OPEN = {22, 80, 443}
FILTERED = {6379, 8000, 8081, 9100, 9999}
# converge.yml puts the Debian 13 host in group monitoring (the Prometheus host).
PROMETHEUS = "firewall-debian13"


def _docker(*args, check=True, timeout=120):
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=check, timeout=timeout
    )


@pytest.fixture(scope="module")
def attacker():
    name = f"openclaw-mol-firewall-attacker-{uuid.uuid4().hex[:6]}"
    _docker(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        NETWORK,
        "openclaw-test/attacker:latest",
        "sleep",
        "infinity",
    )
    try:
        yield name
    finally:
        _docker("rm", "-f", name, check=False)


def _name(host):
    return host.check_output("hostname")


def _other(host):
    return next(h for h in HOSTS if h != _name(host))


def _scan(attacker, target):
    ports = ",".join(str(p) for p in sorted(OPEN | FILTERED))
    out = _docker(
        "exec",
        attacker,
        "nmap",
        "-Pn",
        "-T4",
        "--max-retries",
        "1",
        "-p",
        ports,
        "-oG",
        "-",
        target,
    ).stdout
    return {int(p): state for p, state in re.findall(r"(\d+)/(\w+)/tcp", out)}


def _connects(container, target, port):
    code = f"import socket; socket.create_connection(({target!r}, {port}), 3).close()"
    return _docker("exec", container, "python3", "-c", code, check=False).returncode == 0


def test_restarting_nftables_keeps_docker_chains(host):
    host.check_output("systemctl restart nftables")
    assert "DNAT" in host.check_output("iptables -t nat -S DOCKER")
    assert "--dport 80 -j ACCEPT" in host.check_output("iptables -S DOCKER")
    assert "policy drop" in host.check_output("nft list chain inet openclaw input")


def test_scan_sees_only_allowed_ports_open(host, attacker):
    states = _scan(attacker, _name(host))
    assert {p for p, s in states.items() if s == "open"} == OPEN
    assert {p for p, s in states.items() if s == "filtered"} == FILTERED


def test_internal_ports_open_to_the_internal_source_only(host):
    me, other = _name(host), _other(host)
    assert _connects(other, me, 6379)  # host service (nftables input)
    assert _connects(other, me, 8000)  # published container port (DOCKER-USER)
    assert not _connects(other, me, 9999)
    assert not _connects(other, me, 8081)


def test_the_node_exporter_admits_the_prometheus_host_only(host):
    me, other = _name(host), _other(host)
    if other == PROMETHEUS:
        assert _connects(other, me, 9100)
    else:
        # The other host is an internal source (6379 above) but not the Prometheus host.
        assert _connects(other, me, 6379)
        assert not _connects(other, me, 9100)


def test_ssh_login_still_works(host, attacker):
    ssh = [
        "sshpass",
        "-p",
        "probe-pass",
        "ssh",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=5",
        f"probe@{_name(host)}",
        "id",
        "-un",
    ]
    assert _docker("exec", attacker, *ssh).stdout.strip() == "probe"


def test_published_ports_pass_through_the_openclaw_chain(host):
    rules = host.check_output("iptables -S DOCKER-USER").splitlines()
    assert rules[1] == "-A DOCKER-USER -j OPENCLAW-DOCKER"


# Connects to the host's published ports every 50 ms for `seconds`, from the
# attacker, and prints how many connections each port accepted.
_PROBE = """
import select, socket, sys, time
# The name is resolved once: a slow lookup must not eat the probe's time.
target = socket.gethostbyname(sys.argv[1])
seconds, ports = float(sys.argv[2]), [int(p) for p in sys.argv[3:]]
accepted = dict.fromkeys(ports, 0)
end = time.monotonic() + seconds
# Until the test writes a line (or closes stdin), at most `seconds`.
while time.monotonic() < end and not select.select([sys.stdin], [], [], 0)[0]:
    for port in ports:
        try:
            socket.create_connection((target, port), 0.2).close()
            accepted[port] += 1
        except OSError:
            pass
    time.sleep(0.05)
print(" ".join(f"{p}={n}" for p, n in accepted.items()))
"""
# How long the probe goes on once the published container is back: the first
# seconds after Docker publishes its ports are when a missing policy shows.
PROBE_AFTER_BACK = 5


def _start_docker_under_probe(host, attacker, command):
    """Run ``command`` (a start or restart of Docker) while the attacker probes
    443 (allowed) and 8081 (not allowed)."""
    probe_args = [_name(host), "90", "443", "8081"]
    probe = subprocess.Popen(
        ["docker", "exec", "-i", attacker, "python3", "-c", _PROBE, *probe_args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1)
    start = time.monotonic()
    # Several starts in a row would trip docker.service's start rate limit.
    host.check_output(f"systemctl reset-failed docker && systemctl {command} docker")
    deadline = start + 60
    while "mol-web" not in host.check_output("docker ps --format '{{.Names}}'"):
        assert time.monotonic() < deadline, (
            "the published container did not come back after the Docker restart"
        )
        time.sleep(0.5)
    back = time.monotonic() - start
    # The policy is loaded before dockerd starts (docker.service.d drop-in):
    # it is there the moment the container is, no polling.
    rules = host.check_output("iptables -S DOCKER-USER").splitlines()
    time.sleep(PROBE_AFTER_BACK)
    out, _ = probe.communicate("stop\n", timeout=60)
    accepted = dict(pair.split("=") for pair in out.split())
    return back, rules, {int(p): int(n) for p, n in accepted.items()}


def test_docker_user_policy_is_there_before_docker_publishes_ports(host, attacker):
    if not host.exists("dockerd"):
        pytest.skip("Docker is emulated on this host")
    # A plain restart; then a start after the rules were lost as at a boot:
    # Docker stopped, the chains flushed, then Docker starts and restores the
    # container with its published ports.
    for lose_rules in (False, True):
        command = "restart"
        if lose_rules:
            # The socket too: a request to it would start Docker again at once.
            host.check_output("systemctl stop docker.socket docker.service")
            # Until Docker has really stopped the container (its PID 1 may take
            # the whole stop timeout), the container still answers through
            # its DNAT rule: that would be our flush, not Docker's start.
            stopped = time.monotonic() + 60
            while (
                host.run("systemctl is-active docker").stdout.strip() != "inactive"
                or host.run("systemctl list-units --no-legend 'docker-*.scope'").stdout.strip()
            ):
                assert time.monotonic() < stopped, "Docker did not stop within 60 s"
                time.sleep(0.5)
            host.check_output(
                "iptables -F DOCKER-USER && iptables -F OPENCLAW-DOCKER"
                " && iptables -X OPENCLAW-DOCKER"
            )
            command = "start"
        back, rules, accepted = _start_docker_under_probe(host, attacker, command)
        assert rules[1] == "-A DOCKER-USER -j OPENCLAW-DOCKER", (
            f"{back:.1f}s after the {command} DOCKER-USER is {rules}"
        )
        assert host.check_output("iptables -S FORWARD").splitlines()[1] == (
            "-A FORWARD -j DOCKER-USER"
        )
        # The probe saw the allowed port answer (so it would have seen 8081 too).
        assert accepted[443] > 0, accepted
        assert accepted[8081] == 0, (
            f"8081 accepted {accepted[8081]} connections during a Docker {command} "
            f"(rules lost first: {lose_rules})"
        )
        states = _scan(attacker, _name(host))
        assert states[8081] == "filtered"
        assert states[443] == "open"


def test_second_interface_is_filtered_too(host, attacker):
    """Published ports obey the policy on every interface, not just the default route's."""
    network = f"{NETWORK}-nic2"
    _docker("network", "create", network, check=False)
    try:
        for container in (_name(host), attacker):
            _docker("network", "connect", network, container)
        inspect = _docker(
            "inspect",
            "-f",
            '{{(index .NetworkSettings.Networks "%s").IPAddress}}' % network,
            _name(host),
        )
        address = inspect.stdout.strip()
        states = _scan(attacker, address)
        assert states[8081] == "filtered", states
        assert states[8000] == "filtered", states
        assert states[443] == "open", states
    finally:
        for container in (_name(host), attacker):
            _docker("network", "disconnect", "-f", network, container, check=False)
        _docker("network", "rm", network, check=False)


def test_no_rollback_timer_left_after_a_confirmed_change(host):
    assert (
        host.run("systemctl is-active openclaw-firewall-rollback.timer").stdout.strip() != "active"
    )


def test_rollback_timer_restores_the_previous_rules(host):
    host.check_output("/usr/local/sbin/openclaw-firewall-rollback arm 3")
    # A "bad change" after arming, as a play would make, then no confirmation.
    host.check_output("nft add rule inet openclaw input tcp dport 9999 accept comment bad-change")
    assert "bad-change" in host.check_output("nft list chain inet openclaw input")
    deadline = time.monotonic() + 20
    while "bad-change" in host.check_output("nft list chain inet openclaw input"):
        assert time.monotonic() < deadline, "the rollback timer did not restore the previous rules"
        time.sleep(1)
    assert "policy drop" in host.check_output("nft list chain inet openclaw input")

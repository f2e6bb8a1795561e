"""The hardening controls together (playbooks/harden.yml after
playbooks/docker.yml) on a host that runs Docker, seen from outside:

- the deploy user still logs in with its key after SSH, firewall and
  fail2ban are all in place;
- an SSH brute force is banned by fail2ban through the nftables backend (the
  ban is in the nft rule set, the attacker's connections fail) while a
  bystander still logs in;
- forwarding is on because Docker is, a container on the host reaches out,
  and its published ports obey the firewall policy (443 open, 8000/8081
  filtered);
- an nmap scan sees nothing open but 22/80/443.
"""

import json
import re
import subprocess

import pytest
from attacker import attacker, scenario_network
from polling import wait_for

IMAGE = "openclaw-test/debian:bookworm"
WEB = "hardening-web"
NETWORK = scenario_network(__file__)
HOSTS = ("hardening-debian12", "hardening-debian13")
ALLOWED = {22, 80, 443}
SSH = (
    "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
    "-o ConnectTimeout=5"
)


def _name(host):
    return host.backend.get_hostname()


def _jail(host, jail="sshd"):
    return host.check_output("fail2ban-client status %s", jail)


@pytest.fixture(scope="module")
def operator(host):
    """A client container whose key is authorized for the deploy user."""
    with attacker(NETWORK, "hard-op") as client:
        pub = client.sh(
            "ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519 && cat /root/.ssh/id_ed25519.pub"
        )
        assert pub.returncode == 0, pub.stderr
        host.check_output(
            "install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh"
            " && echo %s > /home/deploy/.ssh/authorized_keys"
            " && chown deploy: /home/deploy/.ssh/authorized_keys && chmod 0600 /home/deploy/.ssh/authorized_keys",
            pub.stdout.strip(),
        )
        yield client


@pytest.fixture(scope="module")
def web(host):
    """A container inside the host publishing 443 (public), 8000 (internal: no
    sources configured) and 8081 (not allowed), from the local base image."""
    name = _name(host)
    if host.run("docker image inspect %s", IMAGE).rc != 0:
        subprocess.run(
            f"docker save {IMAGE} | docker exec -i {name} docker load -q",
            shell=True,
            check=True,
            capture_output=True,
            timeout=300,
        )
    host.run("docker rm -f %s", WEB)
    run = (
        f"docker run -d --name {WEB} -p 443:80 -p 8000:80 -p 8081:80 {IMAGE}"
        " python3 -m http.server 80"
    )
    started = host.run(run)
    if started.rc != 0:
        # Nested runc on Debian 13 sometimes fails to start a container
        # (README, Testing): one more attempt after removing the leftover.
        host.run("docker rm -f %s", WEB)
        started = host.run(run)
    assert started.rc == 0, started.stderr
    assert wait_for(
        lambda: (
            host.run(
                "docker exec %s python3 -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1/\")'",
                WEB,
            ).rc
            == 0
        ),
        timeout=30,
    )
    yield WEB
    host.run("docker rm -f %s", WEB)


def test_docker_runs_and_forwarding_is_on(host):
    assert host.service("docker").is_running
    assert host.sysctl("net.ipv4.ip_forward") == 1
    assert host.sysctl("net.ipv6.conf.all.forwarding") == 1


def test_deploy_key_login_works_after_hardening(host, operator):
    res = operator.sh(f"{SSH} deploy@{_name(host)} id -un", timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "deploy"
    # Passwords are refused: key only.
    settings = host.check_output("sshd -T")
    assert "passwordauthentication no" in settings


def test_ssh_brute_force_is_banned_through_nftables(host, operator):
    target = _name(host)
    with attacker(NETWORK, "hard-bf") as bad:
        for i in range(8):
            if bad.address in _jail(host):
                break
            bad.sh(f"timeout 10 {SSH} nosuchuser{i}@{target} true", timeout=30)
        try:
            assert wait_for(lambda: bad.address in _jail(host)), _jail(host)
            # fail2ban's nftables action (set in its own table, input hook).
            assert "nftables" in host.check_output("fail2ban-client get sshd actions")
            banned = host.check_output("nft list set inet f2b-table addr-set-sshd")
            assert bad.address in banned
            assert "hook input" in host.check_output("nft list chain inet f2b-table f2b-chain")
            # The attacker's connections fail, the operator's still work.
            blocked = bad.sh(f"nc -z -w 5 {target} 22", timeout=30)
            assert blocked.returncode != 0
            res = operator.sh(f"{SSH} deploy@{target} true", timeout=30)
            assert res.returncode == 0, res.stderr
            assert operator.address not in _jail(host)
        finally:
            host.run("fail2ban-client set sshd unbanip %s", bad.address)


def test_a_container_reaches_out_through_forwarding(host, web):
    other = next(h for h in HOSTS if h != _name(host))
    address = json.loads(
        subprocess.run(
            ["docker", "inspect", other], capture_output=True, text=True, check=True
        ).stdout
    )[0]["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]
    # From the container's network namespace through docker0, forward, NAT and
    # out of eth0 to the other host's SSH port: the banner comes back.
    code = (
        "import socket; s = socket.create_connection(('%s', 22), 5); print(s.recv(64).decode())"
        % address
    )
    out = host.check_output("docker exec %s python3 -c %s", web, code)
    assert out.startswith("SSH-2.0-"), out


def test_scan_sees_only_22_80_443_and_published_ports_follow_the_policy(host, web):
    target = _name(host)
    with attacker(NETWORK, "hard-scan") as scanner:
        scan = scanner.sh(
            f"nmap -Pn -T4 --max-retries 1 --min-rate 2000 -p 1-10000 -oG - {target}",
            timeout=300,
        )
        assert scan.returncode == 0, scan.stderr
        states = {int(p): s for p, s in re.findall(r"(\d+)/(\w+)/tcp", scan.stdout)}
        open_ports = {p for p, s in states.items() if s == "open"}
        assert open_ports <= ALLOWED, scan.stdout
        # sshd and the published container port 443 answer.
        assert {22, 443} <= open_ports, scan.stdout
        # Published but not allowed, and internal without sources: filtered
        # (-oG lists ports that differ from the most common state; ask directly).
        for port in (8000, 8081):
            probe = scanner.sh(f"nc -z -w 3 {target} {port}", timeout=30)
            assert probe.returncode != 0, (port, probe)
        page = scanner.sh(
            f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 http://{target}:443/"
        )
        assert page.stdout == "200", page

"""Behaviour of openclaw_fail2ban: a brute-force SSH client and a client
failing API authentication get banned at the firewall, others still connect."""

import json
from datetime import UTC, datetime

import pytest
from attacker import attacker, scenario_network
from polling import wait_for

AUDIT_LOG = "/var/log/openclaw/audit.log"


def jail_status(host, jail):
    return host.check_output("fail2ban-client status %s", jail)


def test_configured_jails_run(host):
    out = host.check_output("fail2ban-client status")
    jails = out.split("Jail list:", 1)[1].replace(",", " ").split()
    assert sorted(jails) == ["openclaw-auth", "recidive", "sshd"]


def test_sshd_jail_reads_the_journal_of_the_right_process(host):
    match = host.check_output("fail2ban-client get sshd journalmatch")
    assert "_SYSTEMD_UNIT=ssh.service" in match
    if host.system_info.codename == "trixie":
        assert "_COMM=sshd-session" in match


@pytest.fixture
def target(host):
    return host.backend.get_hostname()


def test_ssh_brute_force_is_banned_and_others_still_connect(host, target):
    network = scenario_network(__file__)
    with attacker(network, "f2b") as bad, attacker(network, "f2b") as good:
        for i in range(8):
            if bad.address in jail_status(host, "sshd"):
                break
            # The ban can land mid-connection: its packets are then dropped,
            # so bound each attempt.
            bad.sh(
                "timeout 10 ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o ConnectTimeout=5 "
                f"nosuchuser{i}@{target} true",
                timeout=30,
            )
        try:
            assert wait_for(lambda: bad.address in jail_status(host, "sshd")), jail_status(
                host, "sshd"
            )
            # The ban is a firewall rule: new connections are refused or time out.
            assert bad.address in host.check_output("nft list ruleset")
            blocked = bad.sh(f"nc -z -w 5 {target} 22", timeout=30)
            assert blocked.returncode != 0
            # Another address still reaches sshd and gets its banner.
            banner = good.sh(f"echo | nc -w 5 {target} 22", timeout=30)
            assert banner.stdout.startswith("SSH-2.0-"), banner
            assert good.address not in jail_status(host, "sshd")
        finally:
            host.run("fail2ban-client set sshd unbanip %s", bad.address)


def _audit_failures(host, client, count=6):
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    lines = "".join(
        json.dumps(
            {"ts": now, "event": "auth.failed", "client": client, "reason": "unknown_key"},
            separators=(",", ":"),
        )
        + "\n"
        for _ in range(count)
    )
    host.check_output("printf %%s %s >> %s", lines, AUDIT_LOG)


def test_trusted_proxy_is_never_banned(host):
    """Failures logged with the load balancer's address (a forged X-Forwarded-For
    the runtime could not see through) must not ban the load balancer."""
    proxy, other = "192.0.2.10", "192.0.2.78"
    assert proxy in host.check_output("fail2ban-client get openclaw-auth ignoreip")
    _audit_failures(host, proxy)
    _audit_failures(host, other)
    try:
        # The other address is banned: the jail read both batches.
        assert wait_for(lambda: other in jail_status(host, "openclaw-auth"))
        assert proxy not in jail_status(host, "openclaw-auth")
    finally:
        host.run("fail2ban-client set openclaw-auth unbanip %s", other)


def test_runtime_auth_failures_are_banned(host):
    client = "192.0.2.77"
    _audit_failures(host, client)
    try:
        assert wait_for(lambda: client in jail_status(host, "openclaw-auth")), jail_status(
            host, "openclaw-auth"
        )
        assert client in host.check_output("nft list ruleset")
        # Banned before Docker's DNAT, so published runtime ports are covered
        # (molecule/cluster proves it against real replicas).
        chain = host.check_output("nft list chain inet f2b-table f2b-prerouting")
        assert (
            "hook prerouting priority -110" in chain
            or "hook prerouting priority dstnat - 10" in chain
        ), chain
        assert client in host.check_output("nft list set inet f2b-table addr-set-openclaw-auth")
    finally:
        host.run("fail2ban-client set openclaw-auth unbanip %s", client)

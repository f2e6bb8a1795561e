"""Behaviour of openclaw_sysctl: the guide's values are live, forwarding
follows the Docker role, host-wide keys are written but not applied."""

import pytest

CONF = "/etc/sysctl.d/90-openclaw.conf"

LIVE = {
    "net.core.somaxconn": "65535",
    "net.ipv4.tcp_max_syn_backlog": "8192",
    "net.ipv4.ip_local_port_range": "1024 65535",
    "net.ipv4.tcp_keepalive_time": "600",
    "net.ipv4.tcp_keepalive_intvl": "30",
    "net.ipv4.tcp_keepalive_probes": "5",
    "net.ipv4.tcp_syncookies": "1",
    "net.ipv4.conf.all.rp_filter": "1",
    "net.ipv4.conf.all.accept_source_route": "0",
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv6.conf.all.accept_redirects": "0",
    "net.ipv4.conf.all.log_martians": "1",
}


def sysctl(host, key):
    return " ".join(host.check_output("sysctl -n %s", key).split())


@pytest.mark.parametrize("key,want", sorted(LIVE.items()))
def test_network_keys_are_live(host, key, want):
    assert sysctl(host, key) == want


BACKLOG_PROBE = """
import socket, subprocess
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(100000)
port = s.getsockname()[1]
print(subprocess.run(["ss", "-Hltn", "sport = :%d" % port], capture_output=True, text=True).stdout)
"""


def test_listen_backlog_reaches_somaxconn(host):
    # A server asking for a huge backlog gets somaxconn (the kernel default
    # is 4096): ss shows a listening socket's backlog in Send-Q.
    out = host.check_output("python3 -c %s", BACKLOG_PROBE)
    assert out.split()[2] == "65535", out


def test_forwarding_follows_docker(host):
    docker_host = host.backend.get_hostname().endswith("debian12")
    want = "1" if docker_host else "0"
    assert sysctl(host, "net.ipv4.ip_forward") == want
    assert sysctl(host, "net.ipv6.conf.all.forwarding") == want
    # Toggling ip_forward resets accept_redirects; the baseline must win.
    assert sysctl(host, "net.ipv4.conf.all.accept_redirects") == "0"


def test_file_holds_every_key_once(host):
    lines = [
        line.split("=", 1)[0].strip()
        for line in host.file(CONF).content_string.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == len(set(lines))
    for key in list(LIVE) + [
        "kernel.kptr_restrict",
        "kernel.dmesg_restrict",
        "fs.protected_symlinks",
    ]:
        assert key in lines
    assert lines[0] == "net.ipv4.ip_forward"


def test_no_later_sysctl_file_overrides_ours(host):
    # systemd-sysctl applies files in name order, the last value wins: no
    # file loaded after ours may set one of our keys to another value.
    config = host.check_output("systemd-analyze cat-config sysctl.d")
    ours, later, current = {}, [], None
    for line in config.splitlines():
        if line.startswith("# /"):
            current = line[2:].strip()
            continue
        if not line.strip() or line.lstrip().startswith(("#", ";")) or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        value = " ".join(value.split())
        if current == CONF:
            ours[key] = value
        elif ours:
            later.append((current, key.lstrip("-"), value))
    assert ours, "our file is not among the files systemd-sysctl loads"
    conflicts = [(f, k, v) for f, k, v in later if k in ours and ours[k] != v]
    assert not conflicts

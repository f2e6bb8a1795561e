"""Behaviour of openclaw_ssh: key logins work, passwords and outsiders are
refused, only modern crypto is offered, unneeded services are masked."""

import pytest
from attacker import attacker, scenario_network

PASSWORD = "Openclaw-test-pw-1"  # set by prepare.yml for deploy and intruder
SSH = "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o ConnectTimeout=10"


def effective(host):
    out = host.check_output("sshd -T")
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


@pytest.fixture(scope="module")
def client(host):
    """An attacker container whose key is authorized for deploy and intruder."""
    with attacker(scenario_network(__file__), "ssh") as box:
        gen = box.sh(
            "ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519 && cat /root/.ssh/id_ed25519.pub"
        )
        assert gen.returncode == 0, gen.stderr
        for user in ("deploy", "intruder"):
            host.check_output(
                "install -d -m 0700 -o %s -g %s /home/%s/.ssh && echo %s > /home/%s/.ssh/authorized_keys"
                " && chown %s: /home/%s/.ssh/authorized_keys",
                user,
                user,
                user,
                gen.stdout.strip(),
                user,
                user,
                user,
            )
        yield box


def target(host):
    return host.backend.get_hostname()


def test_sshd_shows_hardened_settings(host):
    s = effective(host)
    assert s["passwordauthentication"] == "no"
    assert s["kbdinteractiveauthentication"] == "no"
    assert s["permitrootlogin"] in ("prohibit-password", "without-password")
    assert s["allowgroups"] == "sshusers"
    assert s["maxauthtries"] == "3"
    assert s["x11forwarding"] == "no"
    assert "cbc" not in s["ciphers"] and "chacha20-poly1305@openssh.com" in s["ciphers"]
    assert "sha1" not in s["kexalgorithms"] and s["kexalgorithms"].startswith("sntrup761x25519")
    assert all(m.endswith("-etm@openssh.com") for m in s["macs"].split(","))


def test_key_login_works(host, client):
    res = client.sh(f"{SSH} deploy@{target(host)} id -un")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "deploy"


def test_correct_password_is_refused(host, client):
    res = client.sh(
        f"sshpass -p {PASSWORD} ssh -o StrictHostKeyChecking=no -o ConnectTimeout=10 "
        f"-o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive "
        f"deploy@{target(host)} true"
    )
    assert res.returncode != 0
    assert "Permission denied (publickey)" in res.stderr, res.stderr


def test_user_outside_allowed_groups_is_refused(host, client):
    res = client.sh(f"{SSH} intruder@{target(host)} true")
    assert res.returncode != 0
    assert "Permission denied" in res.stderr, res.stderr


def test_weak_cipher_is_refused(host, client):
    res = client.sh(f"{SSH} -c aes128-cbc deploy@{target(host)} true")
    assert res.returncode != 0
    assert "no matching cipher" in res.stderr, res.stderr


def test_unneeded_service_is_masked_and_closed(host):
    assert host.run("systemctl is-enabled rpcbind.service").stdout.strip() == "masked"
    assert host.run("systemctl is-enabled rpcbind.socket").stdout.strip() == "masked"
    assert not host.service("rpcbind").is_running
    assert not host.socket("tcp://0.0.0.0:111").is_listening

"""Behaviour of openclaw_selinux on Debian hosts whose kernel has no SELinux."""

import json

import pytest

FACT = "/etc/ansible/facts.d/openclaw_selinux.fact"


@pytest.mark.parametrize("pkg", ["selinux-basics", "selinux-policy-default", "policycoreutils"])
def test_policy_and_tools_installed(host, pkg):
    assert host.package(pkg).is_installed


def test_next_boot_is_enforcing_with_an_installed_policy(host):
    cfg = dict(
        line.split("=", 1)
        for line in host.file("/etc/selinux/config").content_string.splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert cfg["SELINUX"] == "enforcing"
    # The policy named in the config must exist, or the next boot cannot load it.
    assert host.file(f"/etc/selinux/{cfg['SELINUXTYPE']}/policy").is_directory


def test_tools_report_the_kernel_truthfully(host):
    out = host.check_output("sestatus")
    assert "disabled" in out


def test_report_says_why_the_host_does_not_enforce(host):
    report = json.loads(host.file(FACT).content_string)
    assert report["configured_state"] == "enforcing"
    assert report["running_state"] == "disabled"
    assert report["kernel_selinux"] is False
    assert report["container"] is True
    assert report["reboot_required"] is True
    assert "container" in report["message"]


def test_report_is_visible_to_ansible_as_a_local_fact(host):
    facts = host.ansible("setup", "filter=ansible_local", check=False)
    local = facts["ansible_facts"]["ansible_local"]["openclaw_selinux"]
    assert local["can_enforce"] is False


def test_container_boot_loader_left_alone(host):
    # selinux-activate would schedule a relabel of the machine's files.
    assert not host.file("/.autorelabel").exists

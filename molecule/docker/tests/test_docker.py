"""Behaviour of a host converged with openclaw_docker: the engine runs with the
configured daemon.json, the deploy user can use it, and a container from an
image loaded into it (no registry here) serves a published port."""

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

IMAGE = "openclaw-test/debian:bookworm"
WEB = "oc-verify-web"
WEB_PORT = 18080


def _name(host):
    return host.backend.get_hostname()


def _info(host):
    return json.loads(host.check_output("docker info --format '{{json .}}'"))


@pytest.fixture(scope="module")
def loaded_image(host):
    """Load the local test image into the inner engine (docker save | load)."""
    if host.run(f"docker image inspect {IMAGE}").rc != 0:
        subprocess.run(
            f"docker save {IMAGE} | docker exec -i {_name(host)} docker load",
            shell=True,
            check=True,
            capture_output=True,
            timeout=180,
        )
    return IMAGE


@pytest.fixture(scope="module")
def web(host, loaded_image):
    """A container publishing port WEB_PORT, removed afterwards."""
    host.run(f"docker rm -f {WEB}")
    host.check_output(
        f"docker run -d --name {WEB} -p {WEB_PORT}:8000 {loaded_image} "
        "python3 -m http.server 8000 --directory /usr/share/doc"
    )
    try:
        yield WEB
    finally:
        host.run(f"docker rm -f {WEB}")


def _fetch(url, deadline=20.0):
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.status, resp.read().decode()
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.5)


def test_engine_is_running_and_enabled(host):
    docker = host.service("docker")
    assert docker.is_running
    assert docker.is_enabled


def test_engine_uses_the_configured_drivers(host):
    info = _info(host)
    assert info["CgroupDriver"] == "systemd"
    assert info["LoggingDriver"] == "json-file"
    assert info["Driver"] == "overlay2", "no volume on /var/lib/docker? (vfs is slow)"
    assert info["LiveRestoreEnabled"] is True


def test_daemon_json_is_valid_json_with_rotation(host):
    config = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert config["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert config["iptables"] is True
    assert config["exec-opts"] == ["native.cgroupdriver=systemd"]


def test_deploy_user_is_in_the_docker_group_and_uses_the_engine(host):
    assert "docker" in host.user("deploy").groups
    assert host.run("runuser -u deploy -- docker ps -q").rc == 0


def test_users_outside_the_docker_group_are_refused(host):
    cmd = host.run("runuser -u nobody -- docker ps")
    assert cmd.rc != 0
    assert "permission denied" in cmd.stderr.lower()


def test_a_container_runs_from_the_loaded_image(host, loaded_image):
    out = host.check_output(f"docker run --rm {loaded_image} cat /etc/debian_version")
    assert out.strip().startswith("12")


def test_container_logs_rotate_as_configured(host, web):
    log_config = json.loads(
        host.check_output(f"docker inspect -f '{{{{json .HostConfig.LogConfig}}}}' {web}")
    )
    assert log_config == {"Type": "json-file", "Config": {"max-file": "3", "max-size": "10m"}}


def test_published_port_answers_on_the_host(host, web):
    cmd = host.run(
        "python3 -c 'import urllib.request,sys,time\n"
        "for _ in range(40):\n"
        "    try:\n"
        f'        sys.exit(0 if urllib.request.urlopen("http://127.0.0.1:{WEB_PORT}/", timeout=2).status == 200 else 1)\n'
        "    except OSError:\n"
        "        time.sleep(0.5)\n"
        "sys.exit(2)'"
    )
    assert cmd.rc == 0


def test_published_port_answers_from_outside(host, web):
    address = subprocess.run(
        [
            "docker",
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
            _name(host),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[0]
    status, body = _fetch(f"http://{address}:{WEB_PORT}/")
    assert status == 200
    assert "Directory listing" in body


def test_systemd_tracks_inner_containers_inside_the_test_host(host, web):
    """The systemd cgroup driver puts each inner container in a scope of the
    test host's own systemd (with cgroupfs it would land beside the test
    container in the machine's /docker tree and outlive it)."""
    outer_id = subprocess.run(
        ["docker", "inspect", "-f", "{{.Id}}", _name(host)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    inner_id = host.check_output(f"docker inspect -f '{{{{.Id}}}}' {web}").strip()
    pid = host.check_output(f"docker inspect -f '{{{{.State.Pid}}}}' {web}").strip()
    lines = host.file(f"/proc/{pid}/cgroup").content_string.splitlines()
    tracked = [line.split(":", 2)[2] for line in lines if ":name=systemd:" in line]
    assert tracked, lines
    assert tracked[0] == f"/docker/{outer_id}/system.slice/docker-{inner_id}.scope"


def test_removed_inner_containers_leave_no_cgroups_behind(host, loaded_image):
    """Debian 13's runc puts the v1 controller cgroups of inner containers at
    the machine's cgroup root; they must vanish with the container."""
    cid = host.check_output(f"docker run -d {loaded_image} sleep 300").strip()
    running = host.run(f"find /sys/fs/cgroup -maxdepth 6 -type d -name '*{cid}*'")
    assert cid in running.stdout, "the inner container has no cgroup at all?"
    host.check_output(f"docker rm -f {cid}")
    left = host.run(f"find /sys/fs/cgroup -maxdepth 6 -type d -name '*{cid}*'")
    assert left.stdout.strip() == "", f"cgroups left behind: {left.stdout}"


def test_community_docker_modules_reach_the_engine(host):
    result = host.ansible("community.docker.docker_host_info", check=False)
    assert result["host_info"]["CgroupDriver"] == "systemd"


def test_connecting_user_without_socket_access_is_told_what_to_do(host):
    """The role fails with advice when the user Ansible connects as cannot use
    the socket (here: not in the docker group and not added by the role)."""
    host.check_output("id outsider || useradd -m -s /bin/bash outsider")
    host.check_output(
        "echo 'outsider ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/outsider"
        " && chmod 0440 /etc/sudoers.d/outsider"
    )
    here = Path(__file__).resolve().parent
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(here.parents[2] / "roles"), ANSIBLE_NOCOLOR="1")
    try:
        run = subprocess.run(
            [
                "ansible-playbook",
                "-i",
                os.environ["MOLECULE_INVENTORY_FILE"],
                "-l",
                _name(host),
                "-e",
                "ansible_user=outsider",
                str(here / "socket_denied.yml"),
            ],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    finally:
        host.run("rm -f /etc/sudoers.d/outsider; userdel -r outsider")
    assert run.returncode != 0, run.stdout
    output = " ".join((run.stdout + run.stderr).split())  # the callback wraps long lines
    assert "User outsider cannot use the Docker engine" in output, output
    assert "permission denied" in output
    assert "Add the user to openclaw_docker_users" in output

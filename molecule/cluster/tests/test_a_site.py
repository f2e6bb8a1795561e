"""Behaviour of a runtime host after the whole site.yml (the former default
scenario's tests): the preflight report exists and passed, the engine runs,
and the runtime answers an authenticated inference on every replica port
(the load gate's report: test_a_runtime.py)."""

import json
import os
from pathlib import Path

import requests

SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "cluster")
ARTIFACTS = Path(os.environ.get("OPENCLAW_ARTIFACTS", f"artifacts/molecule/{SCENARIO}"))
PORTS = (8001, 8002)
# Only the runtime hosts (the load balancer has its own tests).
testinfra_hosts = ["ansible://openclaw"]


def _name(host):
    return host.backend.get_hostname()


def test_preflight_report_has_no_errors(host):
    report = json.loads((ARTIFACTS / "preflight" / f"{_name(host)}.json").read_text())
    errors = [c["message"] for c in report["checks"] if c["severity"] == "error"]
    assert errors == []


def test_engine_and_replicas_run(host):
    assert host.service("docker").is_running
    names = host.check_output("docker ps --filter health=healthy --format '{{.Names}}'").split()
    assert sorted(names) == ["openclaw-runtime-1", "openclaw-runtime-2"]


def test_forwarding_on_for_the_docker_host(host):
    # The scenario leaves openclaw_docker_enabled unset: the hardening must
    # notice the engine site.yml installed (Debian's docker.io, dockerd in
    # /usr/sbin) and keep forwarding on, live and at boot. Without it the
    # DNAT'd calls to the published ports die in the kernel.
    assert host.sysctl("net.ipv4.ip_forward") == 1
    assert host.sysctl("net.ipv6.conf.all.forwarding") == 1
    conf = host.file("/etc/sysctl.d/90-openclaw.conf").content_string.splitlines()
    assert "net.ipv4.ip_forward = 1" in conf


def test_authenticated_inference_on_every_port(host, address, admin_key):
    # The fleet's key store (one for both hosts, from Vault in real life).
    key = admin_key
    body = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [0.0] * 64}]}
    for port in PORTS:
        url = f"http://{address}:{port}/v2/models/digits/infer"
        assert requests.post(url, json=body, timeout=5).status_code == 401
        resp = requests.post(url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=5)
        assert resp.status_code == 200, resp.text
        assert {o["name"] for o in resp.json()["outputs"]} >= {"label"}

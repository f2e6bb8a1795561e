"""openclaw_monitoring on a real systemd host: services, validation, a real alert."""

from __future__ import annotations

import json
import os
import time
from urllib.parse import quote

import docker
import pytest
import requests

PROM = "http://127.0.0.1:9090"
AM = "http://127.0.0.1:9093"
RELAY = "http://127.0.0.1:9095"


def _fetch(host, url: str) -> str:
    # The minimal image has no curl: the host's Python fetches.
    # {url!r} would put single quotes inside the shell's single-quoted string.
    code = f'import urllib.request as u; print(u.urlopen("{url}", timeout=10).read().decode())'
    return host.check_output(f"python3 -c '{code}'")


def _get(host, url: str):
    return json.loads(_fetch(host, url))


def _until(check, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(2)


def test_services_run_and_answer(host):
    for unit in (
        "prometheus-node-exporter",
        "prometheus",
        "prometheus-alertmanager",
        "openclaw-relay",
    ):
        assert host.service(unit).is_running, unit
        assert host.service(unit).is_enabled, unit
    assert "node_cpu_seconds_total" in _fetch(host, "http://127.0.0.1:9100/metrics")
    assert _get(host, "http://127.0.0.1:9095/health")["channels"] == ["wecom", "dingtalk"]
    # No gossip: Alertmanager's cluster port stays closed.
    probe = "import socket; socket.create_connection(('127.0.0.1', 9094), 2)"
    assert host.run(f'python3 -c "{probe}"').rc != 0


def test_retention_is_bounded(host):
    flags = _get(host, f"{PROM}/api/v1/status/flags")["data"]
    assert flags["storage.tsdb.retention.time"] == "3d"
    # Prometheus's units read MB as 2^20 bytes and print it as MiB (measured on Debian 12 and 13).
    assert flags["storage.tsdb.retention.size"] == "256MiB"


def test_targets_come_from_the_inventory_with_the_scrape_key(host):
    config = _get(host, f"{PROM}/api/v1/status/config")["data"]["yaml"]
    assert "credentials_file: /etc/prometheus/openclaw-runtime.key" in config
    key = host.file("/etc/prometheus/openclaw-runtime.key")
    assert (key.user, key.group, key.mode) == ("root", "prometheus", 0o640)
    targets = _get(host, f"{PROM}/api/v1/targets")["data"]["activeTargets"]
    jobs = {(t["labels"]["job"], t["labels"]["instance"]) for t in targets}
    for name in ("monitoring-debian12", "monitoring-debian13"):
        assert ("openclaw-runtime", f"{name}:8001") in jobs
        assert ("node", f"{name}:9100") in jobs


def test_a_down_replica_fires_and_alertmanager_routes_it_as_critical(host):
    def routed():
        alerts = _get(host, f"{AM}/api/v2/alerts")
        return [
            a
            for a in alerts
            if a["labels"]["alertname"] == "OpenClawReplicaDown"
            and "critical" in a["receivers"][0]["name"]
        ]

    alerts = _until(routed)
    assert alerts, _get(host, f"{PROM}/api/v1/alerts")
    assert {a["labels"]["instance"] for a in alerts} >= {
        "monitoring-debian12:8001",
        "monitoring-debian13:8001",
    }


def test_the_status_page_shows_both_hosts_the_alert_and_the_report(host):
    """The relay's /status/data as deployed: the real Prometheus and Alertmanager behind it.
    (tests/monitoring/test_status_page.py renders the page itself in Chromium.)"""
    assert "<title>OpenClaw status</title>" in _fetch(host, RELAY + "/status")

    def shown():
        doc = _get(host, RELAY + "/status/data")
        alerts = {a["name"] for h in doc["hosts"] for a in h["alerts"]}
        return doc if "OpenClawReplicaDown" in alerts else None

    doc = _until(shown)
    assert doc, _get(host, RELAY + "/status/data")
    assert doc["errors"] == []
    hosts = {h["host"]: h for h in doc["hosts"]}
    assert set(hosts) == {"monitoring-debian12", "monitoring-debian13"}
    assert all((h["replicas_up"], h["replicas"]) == (0, 1) for h in hosts.values())
    report = hosts["monitoring-debian12"]["loadgate"]
    assert report["passed"] is True and report["p99_ms"] == 12.5
    assert hosts["monitoring-debian13"]["loadgate"] is None
    copied = host.file("/var/lib/openclaw-relay/loadgate/monitoring-debian12.json")
    assert (copied.user, copied.group, copied.mode) == ("root", "openclaw-relay", 0o640)


def test_the_read_only_status_listener_serves_other_hosts_the_page_only(host):
    """openclaw_monitoring_status_listen ":9096": the controller, another host, gets the
    page and its data there; the relay's posts and metrics stay on its loopback listener."""
    scenario = os.environ.get("MOLECULE_SCENARIO_NAME", "monitoring")
    attrs = docker.from_env().containers.get(host.backend.get_hostname()).attrs
    address = attrs["NetworkSettings"]["Networks"][f"openclaw-mol-{scenario}"]["IPAddress"]
    page = requests.get(f"http://{address}:9096/status", timeout=10)
    assert page.status_code == 200 and "<title>OpenClaw status</title>" in page.text
    assert "hosts" in requests.get(f"http://{address}:9096/status/data", timeout=30).json()
    for method, path in [("GET", "/metrics"), ("GET", "/health"), ("POST", "/alert/webhook")]:
        resp = requests.request(method, f"http://{address}:9096{path}", timeout=10)
        assert resp.status_code == 404, (method, path, resp.status_code)
        assert "serves only the read-only status page" in resp.text
    # The relay's own listener stays on loopback.
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{address}:9095/health", timeout=5)
    assert "9096" in host.check_output("cat /etc/openclaw-relay/relay.yml")


def test_the_relay_is_sandboxed_and_its_secrets_root_only(host):
    show = host.check_output(
        "systemctl show openclaw-relay -p User -p NoNewPrivileges -p ProtectSystem "
        "-p ProtectHome -p PrivateTmp -p CapabilityBoundingSet -p RestrictAddressFamilies"
    )
    props = dict(line.split("=", 1) for line in show.splitlines())
    assert props["User"] == "openclaw-relay" and props["NoNewPrivileges"] == "yes"
    assert props["ProtectSystem"] == "strict" and props["ProtectHome"] == "yes"
    assert props["PrivateTmp"] == "yes" and props["CapabilityBoundingSet"] == ""
    conf = host.file("/etc/openclaw-relay/relay.yml")
    assert (conf.user, conf.group, conf.mode) == ("root", "openclaw-relay", 0o640)
    pid = host.check_output("systemctl show -p MainPID --value openclaw-relay")
    uid = host.check_output(f"stat -c %u /proc/{pid}")
    assert uid != "0"


def test_configs_are_validated_before_they_are_written(host):
    for cmd in (
        "promtool check config /etc/prometheus/prometheus.yml",
        "promtool check rules /etc/prometheus/rules/openclaw.rules.yml",
        "amtool check-config /etc/prometheus/alertmanager.yml",
    ):
        assert host.run(cmd).rc == 0, cmd


# The scenario's Redis password (converge.yml): it must never show on a command line.
REDIS_PASSWORD = "molecule-redis-pa$$word"
HOSTS = ("monitoring-debian12", "monitoring-debian13")


def _sample(text: str, name: str) -> float | None:
    """The value of the sample ``name`` (with its labels, as printed) in a /metrics text."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def test_the_redis_exporter_authenticates_from_its_environment_only(host):
    """openclaw_redis's exporter: redis_up 1 on the internal address, the password in a
    root-only environment file, not on the process's command line."""
    assert host.service("prometheus-redis-exporter").is_running
    assert host.service("prometheus-redis-exporter").is_enabled
    env = host.file("/etc/default/prometheus-redis-exporter")
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
    pid = host.check_output("systemctl show -p MainPID --value prometheus-redis-exporter")
    cmdline = host.check_output(f"tr '\\0' ' ' < /proc/{pid}/cmdline")
    assert "--redis.addr=redis://127.0.0.1:6379" in cmdline
    assert "molecule-redis" not in cmdline and "password" not in cmdline
    assert host.check_output(f"stat -c %U /proc/{pid}") == "prometheus"
    # On the internal address (the container's name resolves to it), not on loopback.
    name = host.backend.get_hostname()
    metrics = _fetch(host, f"http://{name}:9121/metrics")
    assert _sample(metrics, "redis_up") == 1
    assert (
        host.run(
            "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 9121), 2)'"
        ).rc
        != 0
    )
    show = host.check_output(
        "systemctl show prometheus-redis-exporter -p NoNewPrivileges -p ProtectSystem -p CapabilityBoundingSet"
    )
    props = dict(line.split("=", 1) for line in show.splitlines())
    assert props == {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "CapabilityBoundingSet": "",
    }


def test_prometheus_scrapes_both_redis_exporters(host):
    def redis_targets():
        targets = _get(host, f"{PROM}/api/v1/targets")["data"]["activeTargets"]
        up = {
            t["labels"]["host"]
            for t in targets
            if t["labels"]["job"] == "redis" and t["health"] == "up"
        }
        return up if up == set(HOSTS) else None

    assert _until(redis_targets, 60), _get(host, f"{PROM}/api/v1/targets")
    result = _get(host, f"{PROM}/api/v1/query?query=redis_up")["data"]["result"]
    assert {r["metric"]["host"]: r["value"][1] for r in result} == dict.fromkeys(HOSTS, "1")


def test_fail2ban_bans_reach_prometheus_and_fire_the_spike_alert(host):
    """Ban three addresses: the textfile collector's counters grow in the node exporter's
    /metrics and in Prometheus, and OpenClawFail2banBanSpike (threshold 2 here) fires."""
    name = host.backend.get_hostname()
    status = host.check_output("fail2ban-client status")
    jails = [j.strip() for j in status.split("Jail list:")[1].split(",") if j.strip()]
    jail = "recidive" if "recidive" in jails else jails[0]
    series = f'fail2ban_banned_total{{jail="{jail}"}}'
    node = "http://127.0.0.1:9100/metrics"
    before = _sample(_fetch(host, node), series)
    assert before is not None, f"{series} missing from the node exporter"
    addresses = ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
    host.check_output(f"fail2ban-client set {jail} banip {' '.join(addresses)}")
    try:
        grown = _until(lambda: _sample(_fetch(host, node), series) == before + 3, 60)
        assert grown, _fetch(host, node)
        assert _sample(_fetch(host, node), f'fail2ban_banned{{jail="{jail}"}}') >= 3

        def in_prometheus():
            query = f'fail2ban_banned_total{{host="{name}",jail="{jail}"}}'
            result = _get(host, f"{PROM}/api/v1/query?query={quote(query)}")["data"]["result"]
            return result and float(result[0]["value"][1]) == before + 3

        assert _until(in_prometheus, 60)

        def firing():
            alerts = _get(host, f"{PROM}/api/v1/alerts")["data"]["alerts"]
            return [
                a
                for a in alerts
                if a["labels"]["alertname"] == "OpenClawFail2banBanSpike"
                and a["labels"]["host"] == name
                and a["state"] == "firing"
            ]

        alerts = _until(firing, 90)
        assert alerts, _get(host, f"{PROM}/api/v1/alerts")
        assert alerts[0]["labels"]["severity"] == "warning"
    finally:
        host.run(f"fail2ban-client set {jail} unbanip {' '.join(addresses)}")


def test_the_fail2ban_collector_runs_confined(host):
    show = host.check_output(
        "systemctl show openclaw-fail2ban-metrics.service -p Result -p NoNewPrivileges "
        "-p ProtectSystem -p PrivateNetwork -p CapabilityBoundingSet -p RestrictAddressFamilies"
    )
    props = dict(line.split("=", 1) for line in show.splitlines())
    assert props["Result"] == "success"
    assert props["NoNewPrivileges"] == "yes" and props["ProtectSystem"] == "strict"
    assert props["PrivateNetwork"] == "yes" and props["CapabilityBoundingSet"] == ""
    assert props["RestrictAddressFamilies"] == "AF_UNIX"
    assert host.service("openclaw-fail2ban-metrics.timer").is_enabled
    prom = host.file("/var/lib/prometheus/node-exporter/fail2ban.prom")
    assert (prom.user, prom.mode) == ("root", 0o644)
    assert "fail2ban_up 1" in prom.content_string

"""openclaw_monitoring on a real systemd host: services, validation, a real alert."""

from __future__ import annotations

import json
import time

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

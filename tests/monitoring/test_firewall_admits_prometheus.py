"""openclaw_firewall admits the Prometheus hosts (group monitoring) to the exporters
and the runtime replica ports, and to nothing else.

The role's nftables rule set is rendered by ansible-playbook for every host of
an inventory with a Prometheus host, a load balancer, a Redis host and two
runtime hosts (the role loaded with ``when: false``, its template written
locally), then read rule by rule: which ports admit which source.
"""

from __future__ import annotations

import json
import re
import sys

from render import ROOT, run_play, write_inputs

MON, LB, REDIS = "10.0.9.9", "10.0.1.1", "10.0.2.2"
INVENTORY = {
    "all": {
        "vars": {"openclaw_runtime_port_base": 8001, "openclaw_runtime_replicas": 2},
        "children": {
            "monitoring": {"hosts": {"mon": {"openclaw_monitoring_address": MON}}},
            "loadbalancers": {"hosts": {"lb": {"ansible_host": LB}}},
            "redis": {"hosts": {"r": {"ansible_host": REDIS}}},
            "openclaw": {
                "hosts": {"h1": {"ansible_host": "10.0.3.1"}, "h2": {"ansible_host": "10.0.3.2"}}
            },
        },
    }
}
# What each host's rule set must admit the Prometheus host to (the replica ports only
# on the runtime hosts, though every host's rule set has them).
EXPECTED = {
    "mon": {"9100"},
    "lb": {"9100", "8404"},
    "r": {"9100", "9121"},
    "h1": {"9100", "8001-8002"},
    "h2": {"9100", "8001-8002"},
}
_RULE = re.compile(r"ip saddr \{ ([^}]*) \} tcp dport (\S+) accept comment \"([\w-]+)\"")


def _render(tmp_path, inventory: dict, extra: dict | None = None) -> dict[str, str]:
    write_inputs(tmp_path, inventory, extra)
    play = {
        "hosts": "all",
        "gather_facts": False,
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "roles": [{"role": "openclaw_firewall", "when": False}],
        "post_tasks": [
            {
                "name": "Render the rule set",
                "ansible.builtin.template": {
                    "src": str(ROOT / "roles/openclaw_firewall/templates/openclaw.nft.j2"),
                    "dest": str(tmp_path / "{{ inventory_hostname }}.nft"),
                    "mode": "0600",
                },
            }
        ],
    }
    run_play(tmp_path, play)
    return {p.stem: p.read_text() for p in tmp_path.glob("*.nft")}


def _admitted(ruleset: str, source: str) -> set[str]:
    return {
        port
        for sources, port, _name in _RULE.findall(ruleset)
        if source in [s.strip() for s in sources.split(",")]
    }


def test_prometheus_reaches_the_exporters_and_replicas_only(tmp_path):
    rulesets = _render(tmp_path, INVENTORY)
    assert set(rulesets) == set(EXPECTED)
    for host, ports in EXPECTED.items():
        assert _admitted(rulesets[host], MON) == ports, (host, rulesets[host])
    # The load balancer still reaches the replicas, not the exporters.
    assert _admitted(rulesets["h1"], LB) == {"8001-8002"}
    # Redis admits the runtime hosts; the exporters are closed to them.
    assert _admitted(rulesets["r"], "10.0.3.1") == {"6379"}


def test_the_status_listener_admits_its_sources_on_the_monitoring_host_only(tmp_path):
    office = "192.0.2.0/24"
    rulesets = _render(
        tmp_path,
        INVENTORY,
        {
            "openclaw_monitoring_status_listen": ":9096",
            "openclaw_monitoring_status_sources": [office],
        },
    )
    assert _admitted(rulesets["mon"], office) == {"9096"}
    assert all(office not in rulesets[h] for h in ("lb", "r", "h1", "h2"))
    # Prometheus itself is not admitted to the page's port.
    assert _admitted(rulesets["mon"], MON) == EXPECTED["mon"]


def test_without_a_monitoring_group_the_exporters_follow_the_internal_sources(tmp_path):
    inventory = json.loads(json.dumps(INVENTORY))
    del inventory["all"]["children"]["monitoring"]
    rulesets = _render(tmp_path, inventory, {"openclaw_firewall_internal_sources": ["10.0.0.0/8"]})
    # (6379 admits the runtime hosts as group redis has hosts, the replica ports the LB.)
    assert _admitted(rulesets["lb"], "10.0.0.0/8") == {"9100", "8404"}
    assert MON not in "".join(rulesets.values())

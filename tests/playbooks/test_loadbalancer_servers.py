"""The load balancer's backend slots (the contract with playbooks/bluegreen.yml and
scale.yml): names, addresses and ports for two runtime hosts with different
replica counts, blue or green live, and the haproxy.cfg lines they render to.
ansible-playbook computes them with the role's own tasks (servers.yml) and
template on localhost; nothing is installed.
"""

from __future__ import annotations

import pytest
from roletasks import render_loadbalancer

INVENTORY = {
    "all": {
        "children": {
            "openclaw": {
                "hosts": {
                    "rt-a": {"ansible_host": "192.0.2.11", "openclaw_runtime_replicas": 2},
                    "rt-b": {
                        "ansible_host": "192.0.2.12",
                        "openclaw_runtime_address": "10.0.0.12",
                        "openclaw_runtime_replicas": 3,
                        "openclaw_runtime_port_base": 9001,
                    },
                    # An LB host hardened with the others: not a backend.
                    "lb": {"ansible_host": "192.0.2.20", "openclaw_runtime_enabled": False},
                }
            }
        }
    }
}


def _render(tmp_path, extra: dict) -> tuple[list[dict], str]:
    return render_loadbalancer(tmp_path, INVENTORY, extra)


@pytest.mark.parametrize("live", ["blue", "green"])
def test_slots_per_host_colour_and_replica(tmp_path, live):
    servers, cfg = _render(tmp_path, {"openclaw_bluegreen_live_colour": live})
    by_name = {s["name"]: s for s in servers}
    # 2 runtime hosts (the LB host is left out) x 2 colours x 4 slots.
    assert len(servers) == 16
    assert not any(s["host"] == "lb" for s in servers)
    assert by_name["rt-a-blue-1"]["address"] == "192.0.2.11"
    assert by_name["rt-b-blue-1"]["address"] == "10.0.0.12"
    assert [by_name[f"rt-a-blue-{i}"]["port"] for i in range(1, 5)] == [8001, 8002, 8003, 8004]
    assert [by_name[f"rt-a-green-{i}"]["port"] for i in range(1, 5)] == [8101, 8102, 8103, 8104]
    assert [by_name[f"rt-b-green-{i}"]["port"] for i in range(1, 5)] == [9101, 9102, 9103, 9104]
    enabled = sorted(s["name"] for s in servers if s["enabled"])
    assert enabled == sorted(
        [f"rt-a-{live}-1", f"rt-a-{live}-2", f"rt-b-{live}-1", f"rt-b-{live}-2", f"rt-b-{live}-3"]
    )
    other = "green" if live == "blue" else "blue"
    assert f"    server rt-a-{live}-1 192.0.2.11:{8001 if live == 'blue' else 8101}\n" in cfg
    assert (
        f"    server rt-a-{live}-3 192.0.2.11:{8003 if live == 'blue' else 8103} disabled\n" in cfg
    )
    assert (
        f"    server rt-b-{other}-1 10.0.0.12:{9101 if other == 'green' else 9001} disabled\n"
        in cfg
    )
    assert "backend openclaw_runtime\n" in cfg


def test_live_colour_from_the_first_runtime_hosts_fact(tmp_path):
    inv = INVENTORY["all"]["children"]["openclaw"]["hosts"]
    inv["rt-a"]["ansible_local"] = {"openclaw_bluegreen": {"live": "green"}}
    try:
        servers, _ = _render(tmp_path, {})
    finally:
        del inv["rt-a"]["ansible_local"]
    assert {s["colour"] for s in servers if s["enabled"]} == {"green"}


def test_more_replicas_than_slots_fails_with_a_clear_message(tmp_path):
    inv = INVENTORY["all"]["children"]["openclaw"]["hosts"]
    inv["rt-b"]["openclaw_runtime_replicas"] = 5
    try:
        with pytest.raises(AssertionError) as failed:
            _render(tmp_path, {})
    finally:
        inv["rt-b"]["openclaw_runtime_replicas"] = 3
    assert "raise openclaw_loadbalancer_max_replicas_per_host" in str(failed.value)

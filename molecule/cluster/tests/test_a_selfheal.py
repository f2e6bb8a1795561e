"""A hung replica on every runtime host at once: each host's self-healing
timer (openclaw-runtime-heal) finds it unhealthy, restarts it and waits until
it is healthy again. Both hosts heal at the same time, as they would in a
fleet, so the test waits out one host's healing (about 50 s: three failed
probes, the timer, the stop time-out, a healthy probe) rather than two."""

import json
import os
import time

import docker

SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "cluster")
RUNTIME_HOSTS = (f"{SCENARIO}-debian12", f"{SCENARIO}-debian13")
REPLICA = "openclaw-runtime-2"


def _run(container, *argv):
    result = container.exec_run(list(argv))
    output = result.output.decode()
    assert result.exit_code == 0, f"{' '.join(argv)} on {container.name}: {output}"
    return output


def _state(container):
    return json.loads(_run(container, "docker", "inspect", REPLICA))[0]["State"]


def test_a_hung_replica_is_restarted_by_the_self_healing_timer():
    client = docker.from_env()
    hosts = {name: client.containers.get(name) for name in RUNTIME_HOSTS}
    before = {}
    for name, container in hosts.items():
        before[name] = _state(container)["StartedAt"]
        pids = _run(container, "docker", "top", REPLICA, "-eo", "pid").split()[1:]
        assert pids, f"no process in {REPLICA} on {name}"
        # Every process of the replica frozen: its port stays open, it never answers.
        _run(container, "kill", "-STOP", *pids)
    waiting = set(hosts)
    states = {}
    deadline = time.monotonic() + 180
    while waiting and time.monotonic() < deadline:
        for name in sorted(waiting):
            states[name] = _state(hosts[name])
            restarted = states[name]["StartedAt"] != before[name]
            if restarted and states[name].get("Health", {}).get("Status") == "healthy":
                waiting.discard(name)
        time.sleep(2)
    assert not waiting, {name: states.get(name) for name in waiting}
    # The heal script restarts one replica at a time and waits for it (its
    # order is tested in tests/playbooks/test_runtime_heal.py); it logs the
    # outcome once the replica is healthy.
    for name, container in hosts.items():
        journal = ""
        for _ in range(20):
            journal = _run(
                container, "journalctl", "-u", "openclaw-runtime-heal", "--no-pager", "-o", "cat"
            )
            if f"replica {REPLICA} is healthy again" in journal:
                break
            time.sleep(1)
        assert f"replica {REPLICA} is unhealthy: restarting it" in journal, (name, journal[-2000:])
        assert f"replica {REPLICA} is healthy again" in journal, (name, journal[-2000:])

"""A throw-away client container on a scenario's Docker network, for verify
tests that must act from another address (SSH logins, brute force, scans).

Image: openclaw-test/attacker (molecule/_shared/images/attacker), built by
scripts/build-test-images.sh.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["Attacker", "attacker", "scenario_network"]

IMAGE = "openclaw-test/attacker:latest"


def scenario_network(test_file: str) -> str:
    """Network of the scenario a tests/ file belongs to."""
    return "openclaw-mol-" + Path(test_file).resolve().parents[1].name


class Attacker:
    """A running attacker container; commands run with docker exec."""

    def __init__(self, name: str, network: str) -> None:
        self.name = name
        self.network = network

    def sh(self, script: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a shell script in the container and return the completed process."""
        return subprocess.run(
            ["docker", "exec", "-i", self.name, "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    @property
    def address(self) -> str:
        """IPv4 address on the scenario network."""
        out = subprocess.run(
            ["docker", "inspect", self.name], capture_output=True, text=True, check=True
        ).stdout
        return json.loads(out)[0]["NetworkSettings"]["Networks"][self.network]["IPAddress"]


@contextlib.contextmanager
def attacker(network: str, prefix: str = "mol") -> Iterator[Attacker]:
    """Start an attacker container on network and remove it afterwards."""
    name = f"{prefix}-attacker-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--rm",
            "--name",
            name,
            "--network",
            network,
            IMAGE,
            "sleep",
            "infinity",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    try:
        yield Attacker(name, network)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)

"""Make molecule/_shared importable from the tests; fixtures the runtime hosts' tests share."""

import os
import sys
from pathlib import Path

import docker
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "_shared"))

SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "cluster")
# The fleet's secrets, made by prepare.yml on the controller (as from Vault).
SECRETS = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ".")) / "secrets"


@pytest.fixture(scope="module")
def address(host):
    """The test host's address on the scenario network, as the controller sees it."""
    container = docker.from_env().containers.get(host.backend.get_hostname())
    return container.attrs["NetworkSettings"]["Networks"][f"openclaw-mol-{SCENARIO}"]["IPAddress"]


@pytest.fixture(scope="module")
def admin_key():
    """The fleet's admin API key (made by prepare.yml, private to the controller's user)."""
    path = SECRETS / "admin.key"
    assert oct(path.stat().st_mode & 0o777) == "0o600", f"{path} must be private"
    return path.read_text().strip()

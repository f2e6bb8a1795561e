"""Fixtures shared by the playbook tests."""

from __future__ import annotations

import subprocess

import pytest
from roletasks import ROOT, RUNTIME_IMAGE, docker_answers


@pytest.fixture(scope="session")
def runtime_image() -> str:
    """The runtime image of this tree, for every test that runs it.

    scripts/build-runtime-image.sh rebuilds it when runtime/ changed (a stale image
    with the same tag would run old code) and does nothing when it is up to date.
    A missing image is built, never a reason to skip: on a fresh machine the
    first test that needs it pays the build.
    """
    if not docker_answers():
        pytest.skip("the Docker engine does not answer (make docker starts it)")
    build = subprocess.run(
        [str(ROOT / "scripts" / "build-runtime-image.sh")],
        check=False,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return RUNTIME_IMAGE

"""openclaw_runtime's `registry` image source against a real registry.

A local registry (Debian's docker-registry, the CNCF distribution server) runs on
a loopback port, anonymous or behind htpasswd; the host's Docker engine pulls
from it (Docker allows plain HTTP to 127.0.0.0/8). The role's image_registry
tasks run through ansible-playbook against localhost, and each failure must be
told apart: a missing tag, an unreachable registry, refused credentials.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import warnings
from pathlib import Path

import pytest
from roletasks import docker_answers, free_port, run_role_tasks, start_server, stop_server

with warnings.catch_warnings():
    # Deprecated (gone in Python 3.13); Debian 12 has 3.11 and libxcrypt's bcrypt.
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
USER, PASSWORD = "deploy", "s3cret-pull-token"

pytestmark = pytest.mark.skipif(
    not docker_answers(),
    reason="the Docker engine does not answer (make docker starts it)",
)


class Registry:
    def __init__(self, tmp: Path, auth: bool) -> None:
        if not Path(REGISTRY).exists():
            pytest.fail("docker-registry is not installed: run scripts/bootstrap.sh apt")
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.docker_config = tmp / "docker-cli"
        self.docker_config.mkdir()
        cfg = {
            "version": 0.1,
            "log": {"level": "error"},
            "storage": {"filesystem": {"rootdirectory": str(tmp / "storage")}},
            "http": {"addr": self.host},
        }
        if auth:
            htpasswd = tmp / "htpasswd"
            # The registry accepts bcrypt only; glibc's libxcrypt makes $2b$ hashes.
            htpasswd.write_text(
                f"{USER}:{crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n"
            )
            cfg["auth"] = {"htpasswd": {"realm": "openclaw-test", "path": str(htpasswd)}}
        config = tmp / "registry.yml"
        config.write_text(json.dumps(cfg))  # JSON is YAML
        self.proc = start_server(
            [REGISTRY, "serve", str(config)],
            ("127.0.0.1", self.port),
            tmp / "registry.log",
            "docker-registry",
        )

    def docker(self, *args: str, stdin: bytes | None = None) -> None:
        env = dict(os.environ, DOCKER_CONFIG=str(self.docker_config))
        out = subprocess.run(
            ["docker", *args], input=stdin, check=False, capture_output=True, env=env
        )
        assert out.returncode == 0, f"docker {args[0]}: {out.stderr.decode()[-1000:]}"

    def push_tiny_image(self, ref: str, auth: bool) -> None:
        """Import a one-file image, push it, and drop it from the engine again."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            data = f"pushed for {ref}\n".encode()
            info = tarfile.TarInfo("openclaw-registry-test.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        self.docker("import", "-", ref, stdin=buf.getvalue())
        if auth:
            self.docker("login", self.host, "-u", USER, "--password-stdin", stdin=PASSWORD.encode())
        self.docker("push", ref)
        self.docker("image", "rm", ref)

    def stop(self) -> None:
        stop_server(self.proc)


def run_registry_tasks(
    tmp: Path, name: str, tag: str, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run the role's image_registry tasks on localhost; return the finished process."""
    variables = {"openclaw_runtime_image_name": name, "openclaw_runtime_image_tag": tag, **extra}
    return run_role_tasks(tmp, "openclaw_runtime", ["image_registry.yml"], variables, 300)


def image_present(ref: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", ref], check=False, capture_output=True
        ).returncode
        == 0
    )


@pytest.fixture
def anonymous(tmp_path):
    reg = Registry(tmp_path, auth=False)
    yield reg
    reg.stop()


@pytest.fixture
def private(tmp_path):
    reg = Registry(tmp_path, auth=True)
    yield reg
    reg.stop()


def test_pull_then_a_missing_tag_is_named_as_such(tmp_path, anonymous):
    name = f"{anonymous.host}/openclaw/runtime"
    anonymous.push_tiny_image(f"{name}:1.0.0", auth=False)
    try:
        ok = run_registry_tasks(tmp_path, name, "1.0.0")
        assert ok.returncode == 0, ok.stdout[-3000:]
        assert image_present(f"{name}:1.0.0")
        missing = run_registry_tasks(tmp_path, name, "9.9.9")
        assert missing.returncode != 0
        assert "the registry has no such image or tag (name typo or missing tag)" in missing.stdout
        assert "refused the credentials" not in missing.stdout
    finally:
        subprocess.run(["docker", "image", "rm", f"{name}:1.0.0"], check=False, capture_output=True)


def test_unreachable_registry_is_named_as_such(tmp_path):
    name = f"127.0.0.1:{free_port()}/openclaw/runtime"  # nothing listens there
    out = run_registry_tasks(tmp_path, name, "1.0.0")
    assert out.returncode != 0
    assert "the registry is unreachable from localhost" in out.stdout


def test_private_registry_credentials(tmp_path, private):
    name = f"{private.host}/openclaw/runtime"
    private.push_tiny_image(f"{name}:2.0.0", auth=True)
    try:
        anonymous = run_registry_tasks(tmp_path, name, "2.0.0")
        assert anonymous.returncode != 0
        assert "the registry refused the credentials (authentication)" in anonymous.stdout
        wrong = run_registry_tasks(
            tmp_path,
            name,
            "2.0.0",
            openclaw_runtime_registry_username=USER,
            openclaw_runtime_registry_password="not-the-password",
        )
        assert wrong.returncode != 0
        assert "the registry refused the credentials (authentication)" in wrong.stdout
        assert "not-the-password" not in wrong.stdout  # no_log
        right = run_registry_tasks(
            tmp_path,
            name,
            "2.0.0",
            openclaw_runtime_registry_username=USER,
            openclaw_runtime_registry_password=PASSWORD,
        )
        assert right.returncode == 0, right.stdout[-3000:]
        assert image_present(f"{name}:2.0.0")
    finally:
        subprocess.run(["docker", "image", "rm", f"{name}:2.0.0"], check=False, capture_output=True)

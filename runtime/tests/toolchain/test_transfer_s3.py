"""``publish``/``fetch`` over s3:// and oss:// against a real S3 HTTP endpoint (moto's server)."""

from __future__ import annotations

import socket

import pytest

from openclaw_runtime.toolchain.errors import EXIT_STORE

moto_server = pytest.importorskip(
    "moto.server", reason="moto[server] is not installed (test extra)"
)
boto3 = pytest.importorskip("boto3", reason="boto3 is not installed (toolchain extra)")

SECRET = "s3cr3t-never-printed"


@pytest.fixture(scope="module")
def endpoint():
    """moto's S3-compatible HTTP server on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3env(endpoint, monkeypatch):
    """Credentials and endpoint in the environment only; a fresh bucket."""
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "openclaw-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("OPENCLAW_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("OPENCLAW_S3_ADDRESSING_STYLE", "path")
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="models")
    yield client
    for obj in client.list_objects_v2(Bucket="models").get("Contents", []):
        client.delete_object(Bucket="models", Key=obj["Key"])
    client.delete_bucket(Bucket="models")


def test_publish_and_fetch_s3(cli, s3env, int8_repo, tmp_path):
    code, report = cli("publish", int8_repo / "lr" / "2", "--to", "s3://models/v1.0")
    assert code == 0, report
    keys = {o["Key"] for o in s3env.list_objects_v2(Bucket="models")["Contents"]}
    assert {"v1.0/lr/config.yaml", "v1.0/lr/2/model.onnx", "v1.0/lr/2/SHA256SUMS"} <= keys
    code, report = cli("fetch", "s3://models/v1.0/lr/2", "--to", tmp_path / "r")
    assert code == 0, report
    assert (tmp_path / "r" / "lr" / "2" / "model.onnx").read_bytes() == (
        int8_repo / "lr" / "2" / "model.onnx"
    ).read_bytes()
    assert SECRET not in cli.stderr + str(report)


def test_fetch_s3_resumes_with_range(cli, s3env, int8_repo, tmp_path):
    assert cli("publish", int8_repo / "lr" / "2", "--to", "s3://models")[0] == 0
    partial = tmp_path / "r" / "lr" / ".fetch-2"
    partial.mkdir(parents=True)
    (partial / "SHA256SUMS").write_bytes((int8_repo / "lr" / "2" / "SHA256SUMS").read_bytes())
    model = (int8_repo / "lr" / "2" / "model.onnx").read_bytes()
    (partial / "model.onnx").write_bytes(model[: len(model) // 3])
    code, report = cli("fetch", "s3://models/lr/2", "--to", tmp_path / "r")
    assert code == 0, report
    assert f"resuming at {len(model) // 3} bytes" in cli.stderr
    assert (tmp_path / "r" / "lr" / "2" / "model.onnx").read_bytes() == model


def test_oss_scheme_speaks_s3(cli, s3env, endpoint, int8_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("OSS_ENDPOINT", endpoint)
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", "oss-test")
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", SECRET)
    assert cli("publish", int8_repo / "lr" / "1", "--to", "oss://models/v1.0")[0] == 0
    code, report = cli("fetch", "oss://models/v1.0/lr/1", "--to", tmp_path / "r")
    assert code == 0, report


def test_missing_object_and_missing_endpoint(cli, s3env, tmp_path, monkeypatch):
    code, report = cli("fetch", "s3://models/nothing/3", "--to", tmp_path / "r")
    assert code == EXIT_STORE and "NoSuchKey" in report["error"]
    monkeypatch.delenv("OSS_ENDPOINT", raising=False)
    code, report = cli("fetch", "oss://models/lr/1", "--to", tmp_path / "r")
    assert code == EXIT_STORE and "OSS_ENDPOINT" in report["error"]


def test_no_credentials_names_the_variables(cli, s3env, tmp_path, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, report = cli("fetch", "s3://models/lr/1", "--to", tmp_path / "r")
    assert code == EXIT_STORE
    assert "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY" in report["error"]

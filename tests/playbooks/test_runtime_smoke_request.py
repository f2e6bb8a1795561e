"""openclaw_runtime's smoke test and load gate build their request from the
model's metadata, so any model with numeric inputs works, not only the demo.

A real runtime server on loopback serves two small ONNX models besides the
demo: `pairs` (an INT64 input `x` of 3 values per row) and `words` (a BYTES
input `text`). The role's smoke.yml and loadgate.yml run through ansible-playbook
against localhost with the replica port pointed at that server; no Docker.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper
from roletasks import free_port, run_role_tasks, start_server, stop_server

BIN = Path(sys.executable).parent


def _model(repo: Path, name: str, elem: int, datatype: str, input_name: str, dims: int) -> None:
    """An Identity model, batched (max_batch_size 8), with its config and manifest."""
    graph = helper.make_graph(
        [helper.make_node("Identity", [input_name], ["y"])],
        name,
        [helper.make_tensor_value_info(input_name, elem, ["batch", dims])],
        [helper.make_tensor_value_info("y", elem, ["batch", dims])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    version = repo / name / "1"
    version.mkdir(parents=True)
    onnx.save(model, version / "model.onnx")
    (repo / name / "config.yaml").write_text(
        json.dumps(
            {
                "platform": "onnxruntime_onnx",
                "max_batch_size": 8,
                "inputs": [{"name": input_name, "datatype": datatype, "shape": [dims]}],
                "outputs": [{"name": "y", "datatype": datatype, "shape": [dims]}],
            }
        )
    )
    subprocess.run(
        [str(BIN / "openclaw-runtime"), "models", "manifest", str(version)],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The runtime with digits, pairs and words; yields its port."""
    tmp = tmp_path_factory.mktemp("smoke")
    repo = tmp / "models"
    subprocess.run(
        [str(BIN / "openclaw-runtime"), "models", "build-demo", str(repo)],
        check=True,
        capture_output=True,
    )
    _model(repo, "pairs", TensorProto.INT64, "INT64", "x", 3)
    _model(repo, "words", TensorProto.STRING, "BYTES", "text", 1)
    port = free_port()
    proc = start_server(
        [str(BIN / "openclaw-runtime"), "serve", "--repository", str(repo), "--host",
         "127.0.0.1", "--port", str(port), "--workers", "1", "--set", "auth.enabled=false"],
        ("127.0.0.1", port),
        tmp / "server.log",
        "openclaw-runtime serve",
        timeout=120,
    )  # fmt: skip
    try:
        yield port
    finally:
        stop_server(proc)


def _run(tmp_path: Path, port: int, model: str, **extra) -> subprocess.CompletedProcess[str]:
    etc = tmp_path / "etc"
    etc.mkdir(exist_ok=True)
    key = etc / "inference-client.key"
    key.write_text("oc_0123456789abcdef_" + "k" * 43 + "\n")  # auth is off on this server
    key.chmod(0o600)
    variables = {
        "openclaw_runtime_config_dir": str(etc),
        "openclaw_runtime_port_base": port,
        "openclaw_runtime_replicas": 1,
        "openclaw_runtime_smoke_model": model,
        "openclaw_runtime_loadgate_rate": 50,
        "openclaw_runtime_loadgate_duration": 2,
        "openclaw_runtime_loadgate_connections": 2,
        # This machine is shared: only the request is under test here.
        "openclaw_runtime_loadgate_max_p99_ms": 60000,
        "openclaw_runtime_loadgate_report_dir": str(tmp_path / "reports"),
        "__openclaw_runtime_loadgate_runner": str(tmp_path / "bin" / "loadgate"),
        **extra,
    }
    return run_role_tasks(tmp_path, "openclaw_runtime", ["smoke.yml", "loadgate.yml"], variables)


def _report(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "reports" / "localhost.json").read_text())


def test_request_is_built_from_the_models_metadata(tmp_path, server):
    run = _run(tmp_path, server, "pairs")
    assert run.returncode == 0, run.stdout[-4000:]
    report = _report(tmp_path)
    assert report["requests"] == 100 and report["errors"] == 0, report
    assert report["varied_input"] == "x"
    assert report["distinct_bodies"] == 100


def test_demo_model_still_works(tmp_path, server):
    run = _run(tmp_path, server, "digits")
    assert run.returncode == 0, run.stdout[-4000:]
    assert _report(tmp_path)["varied_input"] == "input"


def test_bytes_input_asks_for_an_explicit_request(tmp_path, server):
    run = _run(tmp_path, server, "words")
    assert run.returncode != 0
    output = " ".join(run.stdout.split())
    assert "cannot make up data for the input(s) text (BYTES) of words" in output
    assert "Set openclaw_runtime_smoke_request" in output


def test_an_explicit_request_is_sent_as_given(tmp_path, server):
    request = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1, 1], "data": ["hi"]}]}
    run = _run(tmp_path, server, "words", openclaw_runtime_smoke_request=request)
    assert run.returncode == 0, run.stdout[-4000:]
    report = _report(tmp_path)
    assert report["errors"] == 0, report
    # Nothing numeric to vary: the report says every body was the same.
    assert report["distinct_bodies"] == 1 and report["varied_input"] is None

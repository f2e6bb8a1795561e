"""``openclaw-model convert``: scikit-learn, PyTorch, Keras (missing), ONNX."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from oc_helpers import small_model

from openclaw_runtime.models.manifest import verify_manifest
from openclaw_runtime.toolchain.errors import EXIT_DEPENDENCY, EXIT_USAGE
from openclaw_runtime.toolchain.versions import open_version

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_TF = importlib.util.find_spec("tensorflow") is not None


def test_pickle_needs_trust(cli, sklearn_file, tmp_path):
    code, report = cli("convert", sklearn_file, "--to", tmp_path / "r", "--name", "lr")
    assert code == EXIT_USAGE
    assert "--trust-pickle" in report["error"] and "arbitrary" in report["error"]
    assert not (tmp_path / "r" / "lr" / "1").exists()


def test_sklearn_convert_infers_signature_and_writes_config(cli, sklearn_file, tmp_path, digits):
    repo = tmp_path / "r"
    code, report = cli("convert", sklearn_file, "--to", repo, "--name", "lr", "--trust-pickle")
    assert code == 0, report
    assert report["signature"] == [{"name": "input", "datatype": "FP32", "shape": [64]}]
    assert "input:FP32:64" in cli.stderr  # the inferred signature is printed
    config = yaml.safe_load((repo / "lr" / "config.yaml").read_text())
    assert config["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [64]}]
    assert [o["name"] for o in config["outputs"]] == ["label", "probabilities"]
    assert config["labels"] == "labels.txt"
    assert (repo / "lr" / "labels.txt").read_text().split() == [str(d) for d in range(10)]
    verify_manifest(repo / "lr" / "1")
    loaded = open_version(repo / "lr", 1)
    labels = loaded.run({"input": digits.x_test})[loaded.output_names.index("label")]
    assert np.mean(labels == digits.y_test) > 0.9
    # No staging leftovers, and the next convert becomes version 2.
    assert sorted(p.name for p in (repo / "lr").iterdir()) == ["1", "config.yaml", "labels.txt"]
    code, report = cli("convert", sklearn_file, "--to", repo, "--name", "lr", "--trust-pickle")
    assert (code, report["version"]) == (0, 2)


def test_signature_flag_that_does_not_fit_fails_cleanly(cli, sklearn_file, tmp_path):
    repo = tmp_path / "r"
    args = ["convert", sklearn_file, "--to", repo, "--name", "lr", "--trust-pickle"]
    code, report = cli(*args, "--input", "input:FP32:63")
    assert code != 0 and report["ok"] is False
    assert not (repo / "lr" / "1").exists()
    code, report = cli(*args, "--input", "input:COMPLEX:64")
    assert code == EXIT_USAGE and "datatype" in report["error"]


def test_onnx_convert_upgrades_opset(cli, tmp_path):
    src = tmp_path / "add.onnx"
    src.write_bytes(small_model(opset=13))
    code, report = cli("convert", src, "--to", tmp_path / "r", "--name", "add", "--opset", "17")
    assert code == 0, report
    assert report["opsets"]["ai.onnx"] == 17
    model = onnx.load(str(tmp_path / "r" / "add" / "1" / "model.onnx"))
    assert model.opset_import[0].version == 17


def test_onnx_convert_rejects_garbage(cli, tmp_path):
    src = tmp_path / "bad.onnx"
    src.write_bytes(b"not a model")
    code, report = cli("convert", src, "--to", tmp_path / "r", "--name", "bad")
    assert code == 3 and "not a valid ONNX model" in report["error"]


@pytest.mark.skipif(
    HAS_TF, reason="TensorFlow is installed; this checks the message when it is not"
)
def test_keras_without_tensorflow_names_the_package(cli, tmp_path):
    src = tmp_path / "model.keras"
    src.write_bytes(b"")
    code, report = cli("convert", src, "--to", tmp_path / "r", "--name", "k")
    assert code == EXIT_DEPENDENCY
    assert "'tensorflow'" in report["error"] and "pip install" in report["error"]


@pytest.mark.skipif(HAS_TORCH, reason="torch is installed; this checks the message when it is not")
def test_torch_without_torch_names_the_package(cli, tmp_path):
    src = tmp_path / "model.pt"
    src.write_bytes(b"")
    code, report = cli("convert", src, "--to", tmp_path / "r", "--name", "t")
    assert code == EXIT_DEPENDENCY and "'torch'" in report["error"]


@pytest.mark.skipif(
    not HAS_TORCH, reason="torch is not installed (pip install torch to run this test)"
)
def test_torch_convert(cli, tmp_path: Path):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    scripted = tmp_path / "net.pt"
    torch.jit.save(torch.jit.script(net), str(scripted))
    code, report = cli("convert", scripted, "--to", tmp_path / "r", "--name", "net")
    assert code == 0, report
    assert report["signature"] == [{"name": "input", "datatype": "FP32", "shape": [8]}]
    x = np.random.default_rng(0).random((5, 8), dtype=np.float32)
    loaded = open_version(tmp_path / "r" / "net", 1)
    expected = net(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(loaded.run({"input": x})[0], expected, rtol=1e-5, atol=1e-5)
    pickled = tmp_path / "net-pickled.pt"
    torch.save(net, str(pickled))
    code, report = cli("convert", pickled, "--to", tmp_path / "r", "--name", "net")
    assert code == EXIT_USAGE and "--trust-pickle" in report["error"]
    code, report = cli(
        "convert", pickled, "--to", tmp_path / "r", "--name", "net", "--trust-pickle"
    )
    assert (code, report["version"]) == (0, 2)


def test_existing_version_needs_replace(cli, sklearn_file, tmp_path):
    args = ["convert", sklearn_file, "--to", tmp_path / "r", "--name", "lr", "--trust-pickle"]
    assert cli(*args)[0] == 0
    code, report = cli(*args, "--version", "1")
    assert code == EXIT_USAGE and "--replace" in report["error"]
    code, report = cli(*args, "--version", "1", "--replace")
    assert (code, report["version"]) == (0, 1)

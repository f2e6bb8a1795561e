"""ONNX models with external data: the weights files are in the manifest and verified.

The models are generated here (onnx.save_model(..., save_as_external_data=True)),
a MatMul whose [64, 4] weight lives in a separate file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from openclaw_runtime.errors import ChecksumMismatch, ModelLoadError
from openclaw_runtime.models.manifest import compute_digests, read_manifest, write_manifest
from openclaw_runtime.models.modelconfig import load_model_config
from openclaw_runtime.models.session import load_version
from openclaw_runtime.toolchain.errors import EXIT_CHECK_FAILED, EXIT_STORE

CONFIG = "max_batch_size: 8\n"
ROWS = np.random.default_rng(0).random((3, 64), dtype=np.float32)


def _graph() -> onnx.ModelProto:
    weight = np.arange(64 * 4, dtype=np.float32).reshape(64, 4) / 100
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 64])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 4])
    node = helper.make_node("MatMul", ["input", "w"], ["output"])
    graph = helper.make_graph([node], "ext", [x], [y], [numpy_helper.from_array(weight, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def save_external(path: Path, location: str) -> Path:
    """Save the model at ``path`` with its weight in ``location`` (relative to the model).

    onnx itself writes only plain file names next to the model, so the file is
    moved and the location rewritten for the paths the tests need.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(
        _graph(),
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.tmp",
        size_threshold=0,
    )
    target = path.parent / location
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path.parent / "weights.tmp", target)
    model = onnx.load(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    onnx.save(model, str(path))
    return path


def _expected() -> np.ndarray:
    model = _graph()
    return ort.InferenceSession(model.SerializeToString()).run(None, {"input": ROWS})[0]


def _load(model_dir: Path, version: int):
    return load_version(model_dir, version, load_model_config(model_dir))


def test_convert_keeps_external_data_under_the_manifest(cli, tmp_path, monkeypatch):
    src = save_external(tmp_path / "src" / "ext.onnx", "ext.weights")
    repo = tmp_path / "repo"
    code, report = cli("convert", src, "--to", repo, "--name", "ext")
    assert code == 0, report
    assert report["external_data"] is True
    version = repo / "ext" / "1"
    assert sorted(read_manifest(version)) == [
        "model.onnx",
        "model.onnx.data",
        "openclaw-model.json",
    ]
    assert report["bytes"] > (version / "model.onnx").stat().st_size  # weights counted
    monkeypatch.chdir(tmp_path)  # the weights are found next to the model, not in the cwd
    loaded = _load(repo / "ext", 1)
    np.testing.assert_allclose(loaded.run({"input": ROWS})[0], _expected(), rtol=1e-6)
    code, report = cli("verify", version)
    assert code == 0, report
    assert "external data model.onnx.data" in report["versions"][0]["checks"][0]["detail"]

    data = version / "model.onnx.data"
    raw = bytearray(data.read_bytes())
    raw[0] ^= 0xFF
    data.write_bytes(bytes(raw))
    code, report = cli("verify", version)
    assert code == EXIT_CHECK_FAILED
    manifest = report["versions"][0]["checks"][0]
    assert not manifest["ok"] and "model.onnx.data: sha256" in manifest["detail"]
    with pytest.raises(ChecksumMismatch, match=r"model\.onnx\.data: sha256"):
        _load(repo / "ext", 1)


def test_runtime_loads_a_hand_made_external_data_version(tmp_path, monkeypatch):
    version = tmp_path / "repo" / "m" / "1"
    save_external(version / "model.onnx", "weights/w.bin")
    (version.parent / "config.yaml").write_text(CONFIG)
    write_manifest(version)
    assert "weights/w.bin" in read_manifest(version)
    monkeypatch.chdir(tmp_path)
    loaded = _load(version.parent, 1)
    np.testing.assert_allclose(loaded.run({"input": ROWS})[0], _expected(), rtol=1e-6)


def _outside(version: Path) -> None:
    save_external(version / "model.onnx", "../shared.bin")


def _hidden(version: Path) -> None:
    save_external(version / "model.onnx", ".w.bin")


def _linked_dir(version: Path) -> None:
    save_external(version / "model.onnx", "sub/w.bin")
    os.replace(version / "sub", version.parent.parent / "elsewhere")
    os.symlink(version.parent.parent / "elsewhere", version / "sub")


def _linked_file(version: Path) -> None:
    save_external(version / "model.onnx", "w.bin")
    os.replace(version / "w.bin", version.parent / "w-outside.bin")
    os.symlink(version.parent / "w-outside.bin", version / "w.bin")


@pytest.mark.parametrize("make", [_outside, _hidden, _linked_dir, _linked_file])
def test_external_data_the_manifest_cannot_cover_is_refused(tmp_path, make):
    version = tmp_path / "repo" / "m" / "1"
    version.mkdir(parents=True)
    (version.parent / "config.yaml").write_text(CONFIG)
    make(version)
    with pytest.raises(ModelLoadError, match=r"external data .* keep the weights in the version"):
        write_manifest(version)
    # A manifest made by other means does not get the model loaded either.
    digests = sorted(compute_digests(version).items())
    (version / "SHA256SUMS").write_text("".join(f"{d}  {name}\n" for name, d in digests))
    with pytest.raises(ModelLoadError, match="external data"):
        _load(version.parent, 1)


def test_fetch_installs_and_verifies_external_data(cli, tmp_path):
    src = save_external(tmp_path / "src" / "ext.onnx", "ext.weights")
    repo, store = tmp_path / "repo", tmp_path / "store"
    assert cli("convert", src, "--to", repo, "--name", "ext")[0] == 0
    code, report = cli("publish", repo / "ext" / "1", "--to", f"file://{store}")
    assert code == 0, report
    assert "ext/1/model.onnx.data" in report["files"]
    code, report = cli("fetch", f"file://{store}/ext/1", "--to", tmp_path / "got")
    assert code == 0, report
    assert "model.onnx.data" in report["files"]
    got = tmp_path / "got" / "ext" / "1"
    assert (got / "model.onnx.data").read_bytes() == (
        repo / "ext" / "1" / "model.onnx.data"
    ).read_bytes()
    assert cli("verify", got)[0] == 0

    # A store whose model.onnx reads weights from outside the version (../config.yaml,
    # present in the repository) is refused, even with the manifest made to match.
    published = store / "ext" / "1"
    model = onnx.load(str(published / "model.onnx"), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../config.yaml"
    onnx.save(model, str(published / "model.onnx"))
    digest = hashlib.sha256((published / "model.onnx").read_bytes()).hexdigest()
    sums = published / "SHA256SUMS"
    sums.write_text(
        "".join(
            f"{digest}  model.onnx\n" if line.endswith("  model.onnx\n") else line
            for line in sums.read_text().splitlines(True)
        )
    )
    code, report = cli("fetch", f"file://{store}/ext/1", "--to", tmp_path / "got", "--version", "2")
    assert code == EXIT_STORE, report
    assert "external data '../config.yaml'" in report["error"]
    assert not (tmp_path / "got" / "ext" / "2").exists()

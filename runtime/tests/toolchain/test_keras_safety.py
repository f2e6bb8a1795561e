"""Legacy Keras .h5 files and TensorFlow SavedModels can run code: they need --trust-pickle."""

import importlib.util

import pytest

from openclaw_runtime.toolchain.convert.keras import convert_keras_path
from openclaw_runtime.toolchain.errors import EXIT_USAGE, MissingDependency, UnsafeInput


def test_h5_is_refused_without_trust(tmp_path):
    model = tmp_path / "model.h5"
    model.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(UnsafeInput, match="--trust-pickle"):
        convert_keras_path(model, [], opset=17)


def test_h5_with_trust_gets_past_the_safety_check(tmp_path):
    model = tmp_path / "model.h5"
    model.write_bytes(b"\x89HDF\r\n\x1a\n")
    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("TensorFlow is installed: this checks the refusal order without it")
    # Without TensorFlow the next refusal is the missing package, not safety.
    with pytest.raises(MissingDependency, match="tensorflow"):
        convert_keras_path(model, [], opset=17, trust_pickle=True)


def _saved_model(tmp_path):
    src = tmp_path / "saved"
    (src / "variables").mkdir(parents=True)
    (src / "saved_model.pb").write_bytes(b"\x08\x01")
    return src


def test_savedmodel_is_refused_without_trust(cli, tmp_path):
    code, report = cli("convert", _saved_model(tmp_path), "--to", tmp_path / "r", "--name", "tf")
    assert code == EXIT_USAGE, report
    assert "--trust-pickle" in report["error"] and "SavedModel is a program" in report["error"]
    assert not (tmp_path / "r").exists()


def test_savedmodel_with_trust_gets_past_the_safety_check(tmp_path):
    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("TensorFlow is installed: this checks the refusal order without it")
    with pytest.raises(MissingDependency, match="tensorflow"):
        convert_keras_path(_saved_model(tmp_path), [], opset=17, trust_pickle=True)

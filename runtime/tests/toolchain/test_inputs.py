"""Input signatures, model references and calibration data files."""

from __future__ import annotations

import numpy as np
import pytest

from openclaw_runtime.models.modelconfig import parse_model_config
from openclaw_runtime.toolchain.convert import detect_format, parse_input
from openclaw_runtime.toolchain.data import load_arrays
from openclaw_runtime.toolchain.errors import ToolchainError, UsageError
from openclaw_runtime.toolchain.layout import parse_ref

CONFIG = parse_model_config(
    {"max_batch_size": 8, "inputs": [{"name": "input", "datatype": "FP32", "shape": [4]}]},
    name="m",
)


def test_parse_input():
    spec = parse_input("image:fp32:3x32x32")
    assert (spec.name, spec.datatype, spec.shape) == ("image", "FP32", (3, 32, 32))
    assert parse_input("x:INT64:5").example(2).dtype == np.int64
    for bad in ("x:FP32", "x:FLOAT:4", "x:FP32:0", "x:FP32:a"):
        with pytest.raises(UsageError):
            parse_input(bad)


def test_parse_ref(tmp_path):
    (tmp_path / "repo" / "m" / "1").mkdir(parents=True)
    (tmp_path / "repo" / "m" / "3").mkdir()
    assert parse_ref(f"{tmp_path}/repo/m", version="latest").version == 3
    assert parse_ref(f"{tmp_path}/repo/m/1/").version == 1
    with pytest.raises(UsageError, match="give the version"):
        parse_ref(f"{tmp_path}/repo/m", version="required")
    with pytest.raises(ToolchainError, match="no such version"):
        parse_ref(f"{tmp_path}/repo/m/2")
    with pytest.raises(ToolchainError, match="no such model"):
        parse_ref(f"{tmp_path}/repo/nope")


def test_detect_format(tmp_path):
    assert detect_format(tmp_path / "a.joblib") == "sklearn"
    assert detect_format(tmp_path / "a.pth") == "torch"
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "saved_model.pb").write_bytes(b"")
    assert detect_format(tmp_path / "saved") == "keras"
    with pytest.raises(UsageError, match="--from"):
        detect_format(tmp_path / "a.bin")


def test_calibration_files_and_folders(tmp_path):
    rows = np.arange(24, dtype=np.float64).reshape(6, 4)
    np.save(tmp_path / "one.npy", rows)
    assert load_arrays(tmp_path / "one.npy", CONFIG)["input"].dtype == np.float32
    folder = tmp_path / "calib"
    folder.mkdir()
    np.save(folder / "a.npy", rows[:2])
    np.savez(folder / "b.npz", input=rows[2:])
    assert load_arrays(folder, CONFIG)["input"].shape == (6, 4)
    np.savez(tmp_path / "wrong.npz", a=rows, b=rows)
    with pytest.raises(UsageError, match="inputs are"):
        load_arrays(tmp_path / "wrong.npz", CONFIG)
    np.save(tmp_path / "flat.npy", rows.ravel())
    with pytest.raises(UsageError, match="dimensions"):
        load_arrays(tmp_path / "flat.npy", CONFIG)
    (tmp_path / "pickled.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(UsageError):
        load_arrays(tmp_path / "pickled.npy", CONFIG)

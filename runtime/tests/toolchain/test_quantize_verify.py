"""``quantize`` and ``verify``: INT8 versions, parity, and every failure verify must catch."""

from __future__ import annotations

import json

import numpy as np
import yaml
from oc_helpers import small_model

from openclaw_runtime.models.manifest import write_manifest
from openclaw_runtime.toolchain.errors import EXIT_CHECK_FAILED, EXIT_USAGE
from openclaw_runtime.toolchain.layout import METADATA_NAME


def _checks(report: dict, version: int) -> dict[str, dict]:
    entry = next(v for v in report["versions"] if v["version"] == version)
    return {c["name"]: c for c in entry["checks"]}


def test_dynamic_quantize_then_verify_passes_with_parity(cli, int8_repo):
    meta = json.loads((int8_repo / "lr" / "2" / METADATA_NAME).read_text())
    assert (meta["precision"], meta["parent_version"], meta["quantization"]["mode"]) == (
        "int8",
        1,
        "dynamic",
    )
    code, report = cli("verify", int8_repo / "lr")
    assert code == 0, report
    parity = _checks(report, 2)["parity"]
    assert parity["ok"] and parity["data"]["top1_agreement"] >= 0.98
    assert parity["data"]["reference"].startswith("reference.npz (450 rows)")
    assert set(_checks(report, 1)) == {"manifest", "onnx_checker", "compatibility", "load"}


def test_static_quantize_needs_data_and_produces_qdq(cli, fp32_repo, calibration):
    model = fp32_repo / "lr" / "1"
    code, report = cli("quantize", "--model", model, "--mode", "static")
    assert code == EXIT_USAGE and "--calibration" in report["error"]
    code, report = cli(
        "quantize", "--model", model, "--mode", "static", "--calibration", calibration
    )
    assert code == 0, report
    assert report["reference_rows"] == 450
    code, report = cli("verify", fp32_repo / "lr" / "2")
    assert code == 0, report
    assert _checks(report, 2)["parity"]["data"]["top1_agreement"] >= 0.98


def test_parity_thresholds_fail_the_command(cli, int8_repo):
    code, report = cli("verify", int8_repo / "lr" / "2", "--max-abs-error", "0")
    assert code == EXIT_CHECK_FAILED and report["ok"] is False
    assert "max abs error" in _checks(report, 2)["parity"]["detail"]
    code, report = cli("verify", int8_repo / "lr" / "2", "--min-top1", "1.01")
    assert code == EXIT_CHECK_FAILED and "top-1 agreement" in _checks(report, 2)["parity"]["detail"]


def test_quantizing_an_int8_version_is_refused(cli, int8_repo):
    code, report = cli("quantize", "--model", int8_repo / "lr" / "2")
    assert code == EXIT_USAGE and "already INT8" in report["error"]


def test_corrupted_model_file_fails_verify(cli, int8_repo):
    path = int8_repo / "lr" / "1" / "model.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    code, report = cli("verify", int8_repo / "lr")
    assert code == EXIT_CHECK_FAILED
    manifest = _checks(report, 1)["manifest"]
    assert not manifest["ok"] and "model.onnx: sha256" in manifest["detail"]
    assert "onnx_checker" not in _checks(report, 1)  # later checks are skipped
    assert not _checks(report, 2)["parity"]["ok"] or not report["ok"]


def test_tampered_manifest_fails_verify(cli, fp32_repo):
    sums = fp32_repo / "lr" / "1" / "SHA256SUMS"
    digest, _ = sums.read_text().splitlines()[0].split("  ")
    sums.write_text(sums.read_text().replace(digest, "0" * 64, 1))
    code, report = cli("verify", fp32_repo / "lr" / "1")
    assert code == EXIT_CHECK_FAILED
    assert "manifest" in _checks(report, 1)["manifest"]["detail"]


def test_opset_too_new_names_the_versions(cli, tmp_path):
    vdir = tmp_path / "r" / "future" / "1"
    vdir.mkdir(parents=True)
    (vdir / "model.onnx").write_bytes(small_model(opset=99, ir_version=99))
    write_manifest(vdir)
    (vdir.parent / "config.yaml").write_text(yaml.safe_dump({"max_batch_size": 8}))
    code, report = cli("verify", tmp_path / "r" / "future")
    assert code == EXIT_CHECK_FAILED
    failed = _checks(report, 1)["compatibility"]
    assert not failed["ok"]
    assert "opset 99" in failed["detail"] and "IR version 99" in failed["detail"]
    assert "onnxruntime" in failed["detail"]


def test_nothing_to_quantize_is_refused(cli, tmp_path):
    src = tmp_path / "add.onnx"
    src.write_bytes(small_model())
    assert cli("convert", src, "--to", tmp_path / "r", "--name", "add")[0] == 0
    code, report = cli("quantize", "--model", tmp_path / "r" / "add" / "1")
    assert code == 3 and "nothing was quantized" in report["error"]
    assert not (tmp_path / "r" / "add" / "2").exists()


def test_io_mismatch_with_config_fails_verify(cli, fp32_repo):
    config = fp32_repo / "lr" / "config.yaml"
    doc = yaml.safe_load(config.read_text())
    doc["inputs"][0]["shape"] = [32]
    config.write_text(yaml.safe_dump(doc))
    code, report = cli("verify", fp32_repo / "lr" / "1")
    assert code == EXIT_CHECK_FAILED
    assert "config shape [32]" in _checks(report, 1)["load"]["detail"]


def test_dynamic_without_data_keeps_no_reference_and_uses_synthetic_rows(cli, fp32_repo):
    code, report = cli("quantize", "--model", fp32_repo / "lr" / "1")
    assert code == 0 and report["reference_rows"] == 0
    code, report = cli("verify", fp32_repo / "lr" / "2")
    assert "synthetic" in _checks(report, 2)["parity"]["data"]["reference"]
    assert np.isfinite(_checks(report, 2)["parity"]["data"]["max_abs_error"])

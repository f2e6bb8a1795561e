"""``bench`` (versions side by side, MLP mode) and ``build-demo`` (FP32 + INT8, reproducible)."""

from __future__ import annotations

import hashlib

from openclaw_runtime.toolchain.errors import EXIT_USAGE


def test_bench_int8_against_parent(cli, int8_repo):
    code, report = cli(
        "bench", int8_repo / "lr" / "2", "--seconds", "0.05", "--batch", "1", "--batch", "128"
    )
    assert code == 0, report
    (model,) = report["models"]
    assert model["versions"] == [1, 2] and model["against"] == 1
    assert model["precision"] == {"1": "fp32", "2": "int8"}
    assert [row["batch"] for row in model["results"]] == [1, 128]
    for row in model["results"]:
        assert row["1"]["rows_per_s"] > 0 and row["2"]["p99_ms"] >= row["2"]["p50_ms"] > 0
        assert row["speedup"] == round(row["2"]["rows_per_s"] / row["1"]["rows_per_s"], 2)


def test_bench_mlp_mode(cli):
    code, report = cli("bench", "--mlp", "--seconds", "0.05", "--batch", "32")
    assert code == 0, report
    (mlp,) = report["models"]
    assert mlp["model"] == "mlp" and mlp["precision"] == {"1": "fp32", "2": "int8"}
    # Not a timing assertion (shared CI machines are noisy); the ratio is reported.
    assert mlp["results"][0]["speedup"] > 0


def test_bench_needs_a_model(cli):
    code, _ = cli("bench")
    assert code == EXIT_USAGE


def test_build_demo_fp32_and_int8_reproducible(cli, tmp_path, demo_onnx):
    code, report = cli("build-demo", "--to", tmp_path / "repo")
    assert code == 0, report
    acc = report["accuracy"]
    assert acc["fp32"] > 0.95 and abs(acc["int8"] - acc["fp32"]) <= 0.01
    assert acc["fp32"] == acc["sklearn"]
    # The runtime's own fixture trained the demo model independently: same bytes.
    assert report["sha256"]["1"] == hashlib.sha256(demo_onnx).hexdigest()
    assert cli("verify", tmp_path / "repo" / "digits")[0] == 0
    code, again = cli("build-demo", "--to", tmp_path / "repo")  # rebuild in place
    assert code == 0 and again["sha256"] == report["sha256"]

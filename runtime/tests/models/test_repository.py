"""Model repository: manifests, checks, versions, hot reload, memory budget."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from oc_helpers import ADD_CONFIG, add_model, small_model

from openclaw_runtime.errors import (
    ChecksumMismatch,
    IncompatibleModel,
    MemoryBudgetExceeded,
    ModelConfigError,
    ModelNotFound,
    ModelNotReady,
)
from openclaw_runtime.models.compat import runtime_support
from openclaw_runtime.models.manifest import verify_manifest, write_manifest
from openclaw_runtime.models.modelconfig import VersionPolicy, parse_model_config
from openclaw_runtime.models.repository import ModelRepository
from openclaw_runtime.models.session import load_version

GiB = 1 << 30


def repo_of(path: Path, limit: int = GiB) -> ModelRepository:
    return ModelRepository(path, memory_limit_bytes=limit)


def test_manifest_detects_a_changed_file(tmp_path):
    vdir = add_model(tmp_path, "add", 1, small_model(), ADD_CONFIG)
    assert verify_manifest(vdir) == ["model.onnx"]
    (vdir / "model.onnx").write_bytes(small_model(width=5))
    with pytest.raises(ChecksumMismatch, match=r"model\.onnx: sha256"):
        verify_manifest(vdir)


def test_manifest_is_sha256sum_compatible(tmp_path):
    vdir = add_model(tmp_path, "add", 1, small_model(), ADD_CONFIG)
    assert os.system(f"cd {vdir} && sha256sum --quiet -c SHA256SUMS") == 0


def test_missing_manifest_is_refused_when_required(tmp_path):
    vdir = add_model(tmp_path, "add", 1, small_model(), ADD_CONFIG)
    (vdir / "SHA256SUMS").unlink()
    with pytest.raises(ChecksumMismatch, match="no SHA256SUMS"):
        verify_manifest(vdir)


def test_load_refuses_a_checksum_mismatch_and_reports_it(tmp_path):
    vdir = add_model(tmp_path, "add", 1, small_model(), ADD_CONFIG)
    (vdir / "model.onnx").write_bytes(small_model(width=5))
    repo = repo_of(tmp_path)
    changes = repo.load("add")
    assert not changes.published and "checksum" in changes.errors[0]
    [entry] = repo.index()
    assert entry.state == "UNAVAILABLE" and "sha256" in entry.reason
    with pytest.raises(ModelNotReady):
        repo.get("add")


def test_opset_newer_than_onnxruntime_is_refused_naming_versions(tmp_path):
    too_new = runtime_support().max_opsets[""] + 1
    add_model(tmp_path, "new", 1, small_model(opset=too_new, ir_version=7), ADD_CONFIG)
    changes = repo_of(tmp_path).load("new")
    assert not changes.published
    message = changes.errors[0]
    assert f"ai.onnx opset {too_new} > supported" in message
    assert "onnxruntime" in message


def test_ir_version_newer_than_supported_is_refused(tmp_path):
    vdir = add_model(tmp_path, "add", 1, small_model(ir_version=99), ADD_CONFIG)
    from openclaw_runtime.models.modelconfig import load_model_config

    with pytest.raises(IncompatibleModel, match=r"IR version 99 > supported"):
        load_version(tmp_path / "add", 1, load_model_config(tmp_path / "add"))
    assert vdir.exists()


def test_config_that_contradicts_the_graph_is_refused(tmp_path):
    add_model(
        tmp_path,
        "add",
        1,
        small_model(),
        ADD_CONFIG.replace("FP32, shape: [4]}]\nout", "INT64, shape: [4]}]\nout"),
    )
    changes = repo_of(tmp_path).load("add")
    assert "config says INT64, the model has FP32" in changes.errors[0]


def test_config_errors_name_key_value_and_allowed():
    with pytest.raises(ModelConfigError, match=r"max_batch_size: invalid value -3"):
        parse_model_config({"max_batch_size": -3}, name="m")
    with pytest.raises(ModelConfigError, match="unknown key"):
        parse_model_config({"max_batchsize": 3}, name="m")
    with pytest.raises(ModelConfigError, match="does not match directory"):
        parse_model_config({"name": "other"}, name="m")


def test_io_is_filled_from_the_graph_when_config_omits_it(tmp_path):
    add_model(tmp_path, "add", 1, small_model(), "max_batch_size: 4\n")
    repo = repo_of(tmp_path)
    repo.load("add")
    cfg = repo.get("add").config
    assert [(s.name, s.datatype, s.shape) for s in cfg.inputs] == [("x", "FP32", (4,))]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"latest": 2}, [2, 3]),
        ({"specific": [1, 3]}, [1, 3]),
        ({"all": True}, [1, 2, 3]),
        ({}, [3]),
    ],
)
def test_version_policies(policy, expected):
    assert (
        VersionPolicy(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in policy.items()}
        ).select([1, 2, 3])
        == expected
    )


def test_unversioned_requests_go_to_the_newest_ready_version(tmp_path):
    add_model(tmp_path, "add", 1, small_model(), ADD_CONFIG + "version_policy: {all: true}\n")
    add_model(tmp_path, "add", 2, small_model(), ADD_CONFIG + "version_policy: {all: true}\n")
    repo = repo_of(tmp_path)
    repo.load("add")
    assert repo.get("add").version == 2
    assert repo.get("add", "1").version == 1
    with pytest.raises(ModelNotFound):
        repo.get("add", "7")
    with pytest.raises(ModelNotFound):
        repo.get("nope")


def test_hot_reload_publishes_a_new_version_and_retires_the_old(tmp_path):
    add_model(tmp_path, "add", 1, small_model(), ADD_CONFIG)
    repo = repo_of(tmp_path)
    repo.load("add")
    assert repo.poll().published == []
    add_model(tmp_path, "add", 2, small_model(), ADD_CONFIG)
    changes = repo.poll()
    assert [v.version for v in changes.published] == [2]
    assert [v.version for v in changes.retired] == [1]
    assert repo.get("add").version == 2


def test_a_broken_new_version_leaves_the_old_one_serving(tmp_path):
    add_model(tmp_path, "add", 1, small_model(), ADD_CONFIG)
    repo = repo_of(tmp_path)
    repo.load("add")
    vdir = add_model(tmp_path, "add", 2, small_model(), ADD_CONFIG)
    (vdir / "model.onnx").write_bytes(b"garbage")  # manifest no longer matches
    changes = repo.poll()
    assert changes.published == [] and changes.retired == []
    assert repo.get("add").version == 1
    reasons = {e.version: (e.state, e.reason) for e in repo.index()}
    assert reasons["2"][0] == "UNAVAILABLE" and "checksum" in reasons["2"][1]
    assert reasons["1"][0] == "READY"


def test_replacing_a_loaded_version_with_bad_files_keeps_the_loaded_one(tmp_path):
    vdir = add_model(tmp_path, "add", 1, small_model(), ADD_CONFIG)
    repo = repo_of(tmp_path)
    repo.load("add")
    before = repo.get("add")
    (vdir / "model.onnx").write_bytes(small_model(width=5))
    repo.poll()
    assert repo.get("add") is before


def test_unload_and_load_again(tmp_path):
    add_model(tmp_path, "add", 1, small_model(), ADD_CONFIG)
    repo = repo_of(tmp_path)
    repo.load("add")
    assert len(repo.unload("add").retired) == 1
    with pytest.raises(ModelNotReady):
        repo.get("add")
    assert repo.poll().published == []  # an unloaded model is not brought back by polling
    repo.load("add")
    assert repo.get("add").version == 1


def test_reload_after_unload_falls_back_from_a_broken_newest_version(tmp_path):
    add_model(tmp_path, "add", 1, small_model(), ADD_CONFIG)
    repo = repo_of(tmp_path)
    repo.load("add")
    repo.unload("add")
    vdir = add_model(tmp_path, "add", 2, small_model(), ADD_CONFIG)
    (vdir / "model.onnx").write_bytes(b"garbage")  # manifest no longer matches
    changes = repo.load("add")
    assert [v.version for v in changes.published] == [1]
    assert repo.get("add").version == 1  # unversioned requests: the newest that loads
    with pytest.raises(ModelNotReady, match="checksum"):
        repo.get("add", "2")
    index = {e.version: (e.state, e.reason) for e in repo.index()}
    assert index["1"] == ("READY", "")
    assert index["2"][0] == "UNAVAILABLE" and "checksum" in index["2"][1]
    # Once the newest version is repaired, it takes over and the fallback is retired.
    add_model(tmp_path, "add", 2, small_model(), ADD_CONFIG)
    changes = repo.poll()
    assert [v.version for v in changes.published] == [2]
    assert [v.version for v in changes.retired] == [1]
    assert repo.get("add").version == 2


def test_latest_two_skips_a_broken_version_and_a_specific_policy_does_not_fall_back(tmp_path):
    config = ADD_CONFIG + "version_policy: {latest: 2}\n"
    for version in (1, 2, 3):
        add_model(tmp_path, "add", version, small_model(), config)
    (tmp_path / "add" / "3" / "model.onnx").write_bytes(b"garbage")
    repo = repo_of(tmp_path)
    repo.load("add")
    assert sorted(v.version for v in repo.loaded()) == [1, 2]
    (tmp_path / "add" / "config.yaml").write_text(ADD_CONFIG + "version_policy: {specific: [3]}\n")
    specific = repo_of(tmp_path)
    specific.load("add")
    assert specific.loaded() == []  # the operator named version 3: no other version instead


def test_least_recently_used_on_demand_model_is_evicted(tmp_path):
    on_demand = ADD_CONFIG + "load: on_demand\n"
    for name in ("a", "b", "c"):
        add_model(tmp_path, name, 1, small_model(), on_demand)
    probe = repo_of(tmp_path)
    probe.load("a")
    one = probe.get("a").memory_bytes
    repo = repo_of(tmp_path, limit=int(one * 2.5))
    repo.load("a")
    repo.load("b")
    repo.get("a").last_used = time.monotonic()  # as infer() does: b is now the least recent
    changes = repo.load("c")
    assert [v.name for v in changes.retired] == ["b"]
    assert {v.name for v in repo.loaded()} == {"a", "c"}
    assert "evicted" in {e.name: e.reason for e in repo.index()}["b"]


def test_a_model_that_cannot_fit_is_refused_with_a_reason(tmp_path):
    add_model(tmp_path, "a", 1, small_model(), ADD_CONFIG)
    changes = repo_of(tmp_path, limit=64).load("a")
    assert "memory budget" in changes.errors[0]
    with pytest.raises(MemoryBudgetExceeded):
        repo_of(tmp_path, limit=64)._make_room("a", 1)


def test_demo_model_builder_is_reproducible(tmp_path, demo_onnx):
    from openclaw_runtime.models.demo import build_demo_model

    a = build_demo_model(tmp_path / "a", onnx_bytes=demo_onnx)
    b = build_demo_model(tmp_path / "b")
    assert (a / "SHA256SUMS").read_text() == (b / "SHA256SUMS").read_text()
    repo = repo_of(tmp_path / "a")
    repo.load("digits")
    loaded = repo.get("digits")
    assert loaded.labels == [str(d) for d in range(10)]
    assert loaded.output_names == ["label", "probabilities"]


def test_write_manifest_covers_extra_files(tmp_path):
    vdir = add_model(tmp_path, "add", 1, small_model(), ADD_CONFIG)
    (vdir / "extra.txt").write_text("x")
    with pytest.raises(ChecksumMismatch, match="not listed"):
        verify_manifest(vdir)
    write_manifest(vdir)
    assert verify_manifest(vdir) == ["extra.txt", "model.onnx"]

"""The content digest the cache keys on: taken once at load time from the verified manifest."""

from __future__ import annotations

import hashlib

from openclaw_runtime.models.modelconfig import load_model_config
from openclaw_runtime.models.session import SessionOptions, load_version

from .demo_swap import favouring, replace_model


def _load(repo, **options):
    model_dir = repo / "digits"
    return load_version(model_dir, 1, load_model_config(model_dir), SessionOptions(**options))


def test_digest_is_the_manifest_hash_and_changes_with_the_files(demo_repo, demo_onnx):
    manifest = (demo_repo / "digits" / "1" / "SHA256SUMS").read_bytes()
    verified = _load(demo_repo)
    # `sha256sum SHA256SUMS` in the version directory gives it (no ../ lines here).
    assert verified.digest == hashlib.sha256(manifest).hexdigest()
    # Without verification the files are hashed: the same content gives the same digest.
    assert _load(demo_repo, verify_checksums=False).digest == verified.digest
    replace_model(demo_repo / "digits" / "1", favouring(demo_onnx, 3))
    assert _load(demo_repo).digest != verified.digest
    assert _load(demo_repo, verify_checksums=False).digest == _load(demo_repo).digest


def test_unverified_load_hashes_the_files_not_a_stale_manifest(demo_repo, demo_onnx):
    before = _load(demo_repo, verify_checksums=False).digest
    # model.onnx replaced, manifest left stale: only verification would notice.
    (demo_repo / "digits" / "1" / "model.onnx").write_bytes(favouring(demo_onnx, 3))
    assert _load(demo_repo, verify_checksums=False).digest != before

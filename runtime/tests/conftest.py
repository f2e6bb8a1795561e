"""Shared fixtures: the demo model (built once per session, offline) and small ONNX graphs."""

from __future__ import annotations

from pathlib import Path

import pytest

from openclaw_runtime.models.demo import build_demo_model, to_onnx, train_digits_classifier


@pytest.fixture(scope="session")
def demo_onnx(tmp_path_factory) -> bytes:
    """The demo model's ONNX bytes (trained and converted once; a few seconds)."""
    return to_onnx(train_digits_classifier())


@pytest.fixture
def demo_repo(tmp_path: Path, demo_onnx: bytes) -> Path:
    """A fresh repository holding the demo model as ``digits`` version 1."""
    repo = tmp_path / "repo"
    build_demo_model(repo, onnx_bytes=demo_onnx)
    return repo

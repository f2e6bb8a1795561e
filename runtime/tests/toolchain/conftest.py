"""Fixtures of the toolchain tests: a small scikit-learn model, a CLI runner, converted repos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from openclaw_runtime.toolchain.cli import main


class Cli:
    """Runs ``openclaw-model`` in-process with ``--json`` and returns (exit code, report)."""

    def __init__(self, capsys) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, dict]:
        self.capsys.readouterr()
        code = main([*map(str, args), "--json"])
        out, err = self.capsys.readouterr()
        self.stderr = err
        return code, json.loads(out) if out.strip() else {}


@pytest.fixture
def cli(capsys) -> Cli:
    """The ``openclaw-model`` runner."""
    return Cli(capsys)


@pytest.fixture(scope="session")
def digits():
    """The runtime demo's digits split (scaled to [0, 1])."""
    from openclaw_runtime.models.demo import load_digits_split

    return load_digits_split()


@pytest.fixture(scope="session")
def sklearn_file(tmp_path_factory, digits) -> Path:
    """A small MLP classifier of digits saved with joblib (fast to train; MatMuls to quantize)."""
    import warnings

    import joblib
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((32,), max_iter=60, random_state=0).fit(digits.x_train, digits.y_train)
    path = tmp_path_factory.mktemp("src") / "digits-mlp.joblib"
    joblib.dump(clf, path)
    return path


@pytest.fixture(scope="session")
def calibration(tmp_path_factory, digits) -> Path:
    """Calibration / reference data for the digits models (.npz keyed by input name)."""
    path = tmp_path_factory.mktemp("data") / "calib.npz"
    np.savez(path, input=digits.x_test)
    return path


@pytest.fixture
def fp32_repo(tmp_path: Path, sklearn_file: Path, capsys) -> Path:
    """A repository with the scikit-learn model converted as ``lr`` version 1."""
    repo = tmp_path / "repo"
    code, report = Cli(capsys)(
        "convert", sklearn_file, "--to", repo, "--name", "lr", "--trust-pickle"
    )
    assert code == 0, report
    return repo


@pytest.fixture
def int8_repo(fp32_repo: Path, calibration: Path, capsys) -> Path:
    """``fp32_repo`` plus the dynamic INT8 version 2 with the digits test split as reference."""
    code, report = Cli(capsys)(
        "quantize",
        "--model",
        fp32_repo / "lr" / "1",
        "--mode",
        "dynamic",
        "--calibration",
        calibration,
    )
    assert code == 0, report
    return fp32_repo

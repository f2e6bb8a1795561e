"""Calibration and reference data: ``.npy``, ``.npz`` or a folder of them.

A ``.npy`` file (or an ``.npz`` with one array) feeds a single-input model;
an ``.npz`` with one array per input name feeds several. A folder's files are
concatenated along the batch dimension in name order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..models.modelconfig import ModelConfig
from ..protocol.datatypes import DATATYPES
from .errors import UsageError

__all__ = ["load_arrays", "rows", "synthetic_inputs", "take"]


def _one(path: Path, names: list[str]) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{path}: not a .npy/.npz file numpy can read without pickle: {exc}"
        ) from exc
    if isinstance(loaded, np.ndarray):
        arrays = {"": loaded}
    else:
        with loaded:
            arrays = {key: loaded[key] for key in loaded.files}
    if set(names) <= set(arrays):
        return {n: arrays[n] for n in names}
    if len(arrays) == 1 and len(names) == 1:
        return {names[0]: next(iter(arrays.values()))}
    raise UsageError(f"{path}: has arrays {sorted(arrays)}; the model's inputs are {names}")


def load_arrays(path: Path, config: ModelConfig) -> dict[str, np.ndarray]:
    """Load data for the model's inputs, cast to their declared datatypes."""
    names = [spec.name for spec in config.inputs]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".npy", ".npz"))
        if not files:
            raise UsageError(f"{path}: no .npy or .npz files in this folder")
        parts = [_one(p, names) for p in files]
        arrays = {n: np.concatenate([part[n] for part in parts]) for n in names}
    elif path.exists():
        arrays = _one(path, names)
    else:
        raise UsageError(f"{path}: no such file or folder")
    for spec in config.inputs:
        want = (len(spec.shape) + 1) if config.batched else len(spec.shape)
        if arrays[spec.name].ndim != want:
            raise UsageError(
                f"{path}: input {spec.name} has shape {list(arrays[spec.name].shape)}; "
                f"expected {want} dimensions (batch, {', '.join(map(str, spec.shape))})"
            )
        arrays[spec.name] = arrays[spec.name].astype(DATATYPES[spec.datatype], copy=False)
    return arrays


def rows(arrays: dict[str, np.ndarray]) -> int:
    """Return the batch size of a set of inputs."""
    return min(len(a) for a in arrays.values())


def take(arrays: dict[str, np.ndarray], start: int, stop: int) -> dict[str, np.ndarray]:
    """Return rows ``start:stop`` of every input."""
    return {k: v[start:stop] for k, v in arrays.items()}


def synthetic_inputs(config: ModelConfig, count: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Return ``count`` rows of uniform [0, 1) data (integers 0..9) for every input."""
    rng = np.random.default_rng(seed)
    out = {}
    for spec in config.inputs:
        dims = [count, *(1 if d == -1 else d for d in spec.shape)]
        dtype = DATATYPES[spec.datatype]
        if dtype.kind == "f":
            out[spec.name] = rng.random(dims).astype(dtype)
        elif dtype.kind in "iu":
            out[spec.name] = rng.integers(0, 10, dims).astype(dtype)
        else:
            raise UsageError(
                f"input {spec.name}: no synthetic data for {spec.datatype}; pass data explicitly"
            )
    return out

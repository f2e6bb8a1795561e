"""The canonical request hash and the stored-value codec."""

from __future__ import annotations

import numpy as np
import pytest

from openclaw_runtime.cache import (
    cache_opt_out,
    decode_outputs,
    encode_outputs,
    request_key,
)

X = {"input": np.arange(64, dtype=np.float32).reshape(1, 64)}
D = "d" * 64  # a loaded version's content digest


def test_same_request_same_key_regardless_of_order_and_transport_params():
    a = request_key("digits", "1", {"b": np.ones(2), **X}, {"timeout": 5, "x": 1, "y": 2}, digest=D)
    b = request_key(
        "digits", "1", {**X, "b": np.ones(2)}, {"y": 2, "x": 1, "cache": True}, digest=D
    )
    assert a == b and len(a) == 64


@pytest.mark.parametrize(
    "change",
    [
        lambda: request_key("digits", "2", X, {}, digest=D),
        lambda: request_key("other", "1", X, {}, digest=D),
        lambda: request_key("digits", "1", {"input": X["input"] + 1}, {}, digest=D),
        lambda: request_key("digits", "1", {"input": X["input"].reshape(8, 8)}, {}, digest=D),
        lambda: request_key("digits", "1", {"input": X["input"].astype(np.float64)}, {}, digest=D),
        lambda: request_key("digits", "1", {"other": X["input"]}, {}, digest=D),
        lambda: request_key("digits", "1", X, {"top_k": 3}, digest=D),
        # The same name and version with other files (a replaced model.onnx).
        lambda: request_key("digits", "1", X, {}, digest="e" * 64),
        # Outputs stored in another order (config.yaml reordered them).
        lambda: request_key("digits", "1", X, {}, digest=D, outputs=("label",)),
    ],
)
def test_anything_that_changes_the_result_changes_the_key(change):
    assert change() != request_key("digits", "1", X, {}, digest=D)


def test_model_and_version_boundaries_cannot_collide():
    assert request_key("ab", "1", X, {}, digest=D) != request_key("a", "b1", X, {}, digest=D)
    assert request_key("m", "1", X, {}, digest="d1", outputs=("y",)) != request_key(
        "m", "1", X, {}, digest="d", outputs=("1y",)
    )


def test_non_contiguous_inputs_hash_like_contiguous():
    arr = np.arange(16, dtype=np.int32).reshape(4, 4)
    assert request_key("m", "1", {"x": arr.T}, {}, digest=D) == request_key(
        "m", "1", {"x": np.ascontiguousarray(arr.T)}, {}, digest=D
    )


def test_bytes_inputs_hash():
    a = np.array([b"ab", b"c"], dtype=object)
    b = np.array([b"a", b"bc"], dtype=object)
    assert request_key("m", "1", {"x": a}, {}, digest=D) != request_key(
        "m", "1", {"x": b}, {}, digest=D
    )


@pytest.mark.parametrize(
    ("params", "out"),
    [
        (None, False),
        ({}, False),
        ({"cache": False}, True),
        ({"cache": "false"}, True),
        ({"cache": True}, False),
    ],
)
def test_opt_out(params, out):
    assert cache_opt_out(params) is out


def test_codec_round_trip():
    outputs = [
        np.array([[0.1, 0.9]], dtype=np.float32),
        np.array([7], dtype=np.int64),
        np.zeros((0, 3), dtype=np.float16),
        np.array([[True, False]]),
    ]
    back = decode_outputs(encode_outputs(outputs))
    assert len(back) == 4
    for a, b in zip(outputs, back, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def test_codec_refuses_objects_and_damage():
    assert encode_outputs([np.array([b"x"], dtype=object)]) is None
    blob = encode_outputs([np.ones(4, dtype=np.float32)])
    with pytest.raises(ValueError):
        decode_outputs(blob[:-1])
    with pytest.raises(ValueError):
        decode_outputs(b"junk" + blob)

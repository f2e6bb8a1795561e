"""JSON and binary codecs of the Open Inference Protocol."""

from __future__ import annotations

import gzip
import json
import math
import struct
import tracemalloc
import zlib

import numpy as np
import pytest

from openclaw_runtime.config import ServerSettings
from openclaw_runtime.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from openclaw_runtime.protocol import decode_request, encode_response
from openclaw_runtime.protocol.codec import pack_bytes
from openclaw_runtime.protocol.compression import choose_encoding, compress, decompress
from openclaw_runtime.protocol.types import InferenceResponse, RequestedOutput, Tensor

NUMERIC = [
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
]
DTYPES = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
}


def _json(doc) -> bytes:
    return json.dumps(doc).encode()


def test_nested_and_flat_json_data_decode_to_the_same_array():
    nested = decode_request(
        _json(
            {
                "inputs": [
                    {
                        "name": "x",
                        "datatype": "FP32",
                        "shape": [2, 3],
                        "data": [[1, 2, 3], [4, 5, 6]],
                    }
                ]
            }
        )
    )
    flat = decode_request(
        _json(
            {
                "inputs": [
                    {"name": "x", "datatype": "FP32", "shape": [2, 3], "data": [1, 2, 3, 4, 5, 6]}
                ]
            }
        )
    )
    assert nested.inputs[0].data.dtype == np.float32
    np.testing.assert_array_equal(nested.inputs[0].data, flat.inputs[0].data)
    assert flat.inputs[0].data.shape == (2, 3)


@pytest.mark.parametrize("datatype", NUMERIC)
def test_every_numeric_datatype_round_trips_in_binary(datatype):
    arr = (np.arange(6) % 2).astype(DTYPES[datatype]).reshape(2, 3)
    raw = arr.tobytes()
    header = _json(
        {
            "inputs": [
                {
                    "name": "x",
                    "datatype": datatype,
                    "shape": [2, 3],
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        }
    )
    req = decode_request(header + raw, len(header))
    np.testing.assert_array_equal(req.inputs[0].data, arr)
    assert req.inputs[0].data.dtype == DTYPES[datatype]


@pytest.mark.parametrize("datatype", NUMERIC)
def test_every_numeric_datatype_decodes_from_json(datatype):
    data = [True, False] if datatype == "BOOL" else [1, 0]
    req = decode_request(
        _json({"inputs": [{"name": "x", "datatype": datatype, "shape": [2], "data": data}]})
    )
    assert req.inputs[0].data.dtype == DTYPES[datatype]
    assert req.inputs[0].data.tolist() == [1, 0]


def test_bytes_tensor_in_json_and_binary():
    req = decode_request(
        _json({"inputs": [{"name": "s", "datatype": "BYTES", "shape": [2], "data": ["héllo", ""]}]})
    )
    assert req.inputs[0].data.tolist() == ["héllo".encode(), b""]
    raw = pack_bytes(np.array([b"ab", b"\x00\xff"], dtype=object))
    header = _json(
        {
            "inputs": [
                {
                    "name": "s",
                    "datatype": "BYTES",
                    "shape": [2],
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        }
    )
    req = decode_request(header + raw, len(header))
    assert req.inputs[0].data.tolist() == [b"ab", b"\x00\xff"]


def test_shape_and_data_disagree_names_the_input():
    with pytest.raises(InvalidInput, match=r"input 'x': shape \[2, 2\] needs 4 values, data has 3"):
        decode_request(
            _json(
                {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [1, 2, 3]}]}
            )
        )


def test_binary_size_mismatch_is_rejected():
    raw = np.zeros(3, np.float32).tobytes()
    header = _json(
        {
            "inputs": [
                {
                    "name": "x",
                    "datatype": "FP32",
                    "shape": [4],
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        }
    )
    with pytest.raises(InvalidInput, match="needs 16 bytes"):
        decode_request(header + raw, len(header))


@pytest.mark.parametrize("length", [-1, 10_000])
def test_header_length_outside_the_body_is_rejected(length):
    with pytest.raises(BadRequest, match="Inference-Header-Content-Length"):
        decode_request(b'{"inputs": []}', length)


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b'{"inputs": []}',
        b'{"inputs": [{"name": 1}]}',
        b'{"inputs": [{"name": "x", "datatype": "FP8", "shape": [1]}]}',
    ],
)
def test_malformed_requests_are_bad_requests(body):
    with pytest.raises(BadRequest):
        decode_request(body)


@pytest.mark.parametrize("shape", [[True, 2], [-1, 2], [1.0, 2], "1,2", None, {"0": 1}])
def test_shape_must_be_a_list_of_non_negative_ints(shape):
    body = _json({"inputs": [{"name": "x", "datatype": "FP32", "shape": shape, "data": [1, 2]}]})
    with pytest.raises(InvalidInput, match="input 'x': shape must be a list of non-negative"):
        decode_request(body)


def test_binary_data_size_without_binary_data_is_rejected():
    doc = {
        "inputs": [
            {"name": "x", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 4}}
        ]
    }
    with pytest.raises(InvalidInput, match="does not fit the 0 binary bytes"):
        decode_request(_json(doc))


def test_nan_literal_in_json_is_refused_with_a_hint():
    with pytest.raises(BadRequest, match="binary tensor extension"):
        decode_request(
            b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [NaN]}]}'
        )


def test_unclaimed_binary_bytes_are_rejected():
    header = _json({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}]})
    with pytest.raises(BadRequest, match="not claimed"):
        decode_request(header + b"\x00\x00", len(header))


def test_raw_binary_mode_keeps_the_body():
    req = decode_request(b"\x01\x02\x03\x04", 0)
    assert req.raw == b"\x01\x02\x03\x04" and req.inputs == []


def _response():
    return InferenceResponse(
        "m",
        "1",
        [
            Tensor("a", "FP32", np.array([[1.5, np.nan]], np.float32)),
            Tensor("b", "INT64", np.array([3], np.int64)),
        ],
        id="req-1",
    )


def test_json_response_carries_model_version_id_and_flat_data():
    body, header = encode_response(_response())
    assert header is None
    doc = json.loads(body)
    assert doc["model_name"] == "m" and doc["model_version"] == "1" and doc["id"] == "req-1"
    assert doc["outputs"][0] == {
        "name": "a",
        "datatype": "FP32",
        "shape": [1, 2],
        "data": [1.5, "NaN"],
    }


def test_binary_output_when_requested_per_output():
    body, header = encode_response(_response(), [RequestedOutput("a", True)])
    doc = json.loads(body[:header])
    assert doc["outputs"][0]["parameters"]["binary_data_size"] == 8
    arr = np.frombuffer(body[header:], np.float32)
    assert arr[0] == 1.5 and np.isnan(arr[1])
    assert doc["outputs"][1]["data"] == [3]


def test_binary_default_applies_to_all_outputs():
    body, header = encode_response(_response(), None, True)
    assert len(body) - header == 8 + 8


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compression_round_trip(encoding):
    data = b"x" * 1000
    assert decompress(compress(data, encoding), encoding, 10_000) == data


def test_raw_deflate_is_accepted():
    engine = zlib.compressobj(wbits=-15)
    data = engine.compress(b"hello") + engine.flush()
    assert decompress(data, "deflate", 100) == b"hello"


def test_decompression_bomb_is_refused():
    with pytest.raises(PayloadTooLarge):
        decompress(gzip.compress(b"\0" * 1_000_000), "gzip", 1000)


def test_corrupt_or_unknown_encoding_is_unsupported():
    with pytest.raises(UnsupportedMediaType):
        decompress(b"not gzip", "gzip", 100)
    with pytest.raises(UnsupportedMediaType):
        decompress(b"x", "br", 100)


def test_accept_encoding_negotiation():
    assert choose_encoding("gzip, deflate") == "gzip"
    assert choose_encoding("gzip;q=0, deflate") == "deflate"
    assert choose_encoding("br") is None
    assert choose_encoding(None) is None


@pytest.mark.parametrize("order", ["<", ">"])
def test_binary_outputs_are_little_endian_whatever_the_array_order(order):
    values = np.array([[1.5, -2.25, 3.0]], dtype=np.dtype("f4").newbyteorder(order))
    response = InferenceResponse("m", "1", [Tensor("y", "FP32", values)])
    body, header_length = encode_response(response, None, True)
    assert header_length is not None
    assert body[header_length:] == np.array([1.5, -2.25, 3.0], dtype="<f4").tobytes()


# --- hostile shapes: refused before anything is allocated for them ---------------------


def _binary(shape, datatype: str, raw: bytes) -> tuple[bytes, int]:
    header = _json(
        {
            "inputs": [
                {
                    "name": "x",
                    "datatype": datatype,
                    "shape": shape,
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        }
    )
    return header + raw, len(header)


def _one_element(datatype: str) -> bytes:
    if datatype == "BYTES":
        return struct.pack("<I", 1) + b"a"
    return np.zeros(1, DTYPES[datatype]).tobytes()


def _decode_both(shape, datatype: str, data, raw: bytes):
    """Yield two decoders of ``shape``: JSON ``data`` and binary ``raw``."""
    yield lambda: decode_request(
        _json({"inputs": [{"name": "x", "datatype": datatype, "shape": shape, "data": data}]})
    )
    body, length = _binary(shape, datatype, raw)
    yield lambda: decode_request(body, length)


@pytest.mark.parametrize("datatype", [*NUMERIC, "BYTES"])
@pytest.mark.parametrize("shape", [[2**31], [2**40], [2**20, 2**20, 2**20]])
def test_more_elements_than_the_configured_maximum_are_refused(datatype, shape):
    data = ["a"] if datatype == "BYTES" else [1]
    for decode in _decode_both(shape, datatype, data, _one_element(datatype)):
        with pytest.raises(InvalidInput) as err:
            decode()
        message = str(err.value)
        assert f"more than the {2**24} this server accepts" in message
        assert "server.max_tensor_elements" in message and "split the batch" in message


@pytest.mark.parametrize("datatype", [*NUMERIC, "BYTES"])
def test_shape_larger_than_its_bytes_is_refused(datatype):
    # Under the element limit, but more elements than the request's bytes can carry.
    shape = [2**22]
    data = ["a"] if datatype == "BYTES" else [1]
    for decode in _decode_both(shape, datatype, data, _one_element(datatype)):
        with pytest.raises(InvalidInput) as err:
            decode()
        assert "input 'x': shape [4194304] needs 4194304 values but the request has room" in str(
            err.value
        )


def test_bytes_shape_is_checked_against_its_data_before_the_array_is_allocated():
    # The old decoder built np.empty(count, object) first: 128 MiB for this 70-byte body.
    body, length = _binary([2**24], "BYTES", _one_element("BYTES"))
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput, match=r"room for at most 1 .*4 per BYTES element"):
            decode_request(body, length)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"decoding a refused shape allocated {peak} bytes"


@pytest.mark.parametrize("ndim", [17, 70, 10_000])
def test_too_many_dimensions_are_refused_with_the_limit(ndim):
    shape = [1] * ndim
    for decode in _decode_both(shape, "FP32", [1.0], _one_element("FP32")):
        with pytest.raises(InvalidInput) as err:
            decode()
        assert f"shape has {ndim} dimensions, more than the 16" in str(err.value)
        assert "server.max_tensor_dims" in str(err.value)


def test_the_maximum_number_of_dimensions_is_accepted():
    (decode, _) = _decode_both([1] * 16, "FP32", [1.0], _one_element("FP32"))
    assert decode().inputs[0].data.ndim == 16


@pytest.mark.parametrize("shape", [[0, 2**62, 2**62], [2**40, 0], [0, 2**25]])
@pytest.mark.parametrize("datatype", ["FP32", "BYTES"])
def test_empty_shape_with_giant_dimensions_is_refused(shape, datatype):
    # numpy raises ValueError for these: it used to be a 500 with a traceback.
    for decode in _decode_both(shape, datatype, [], b""):
        with pytest.raises(InvalidInput, match="non-zero dimensions that multiply to"):
            decode()


def test_empty_shape_with_modest_dimensions_still_decodes():
    for decode in _decode_both([0, 64], "FP32", [], b""):
        assert decode().inputs[0].data.shape == (0, 64)


@pytest.mark.parametrize("shape", [[-1], [2, -3], [-(2**62)]])
def test_negative_dimensions_are_refused_in_binary_too(shape):
    body, length = _binary(shape, "FP32", b"")
    with pytest.raises(InvalidInput, match="shape must be a list of non-negative ints"):
        decode_request(body, length)


def test_shape_echo_in_an_error_is_cut():
    body = _json({"inputs": [{"name": "x", "datatype": "FP32", "shape": ["a" * 100_000]}]})
    with pytest.raises(InvalidInput) as err:
        decode_request(body)
    assert len(str(err.value)) < 400


def test_element_and_dimension_limits_come_from_the_settings():
    limits = ServerSettings(max_tensor_elements=10, max_tensor_dims=2)
    ok = _json({"inputs": [{"name": "x", "datatype": "INT8", "shape": [2, 5], "data": [0] * 10}]})
    assert decode_request(ok, None, limits).inputs[0].data.shape == (2, 5)
    over = _json({"inputs": [{"name": "x", "datatype": "INT8", "shape": [11], "data": [0] * 11}]})
    with pytest.raises(InvalidInput, match="more than the 10 this server accepts"):
        decode_request(over, None, limits)
    deep = _json({"inputs": [{"name": "x", "datatype": "INT8", "shape": [1, 1, 1], "data": [0]}]})
    with pytest.raises(InvalidInput, match="more than the 2 this server accepts"):
        decode_request(deep, None, limits)


# --- non-finite floats in JSON -----------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_non_finite_json_outputs_are_spelled_out_not_null(dtype):
    values = np.array([[0.1, np.nan, np.inf, -np.inf, -0.0]], dtype)
    body, _ = encode_response(InferenceResponse("m", "1", [Tensor("y", "FP32", values)]))
    data = json.loads(body)["outputs"][0]["data"]
    assert data[1:4] == ["NaN", "Infinity", "-Infinity"]
    assert None not in data
    # What a client does with JSON data (tritonclient's as_numpy): the values come back.
    back = np.array(data, dtype=dtype)
    np.testing.assert_array_equal(back, values.reshape(-1))
    assert math.copysign(1, back[4]) == -1


def test_finite_float32_outputs_keep_their_short_form_next_to_non_finite_ones():
    values = np.array([0.1, np.nan], np.float32)
    body, _ = encode_response(InferenceResponse("m", "1", [Tensor("y", "FP32", values)]))
    assert b'"data":[0.1,"NaN"]' in body


def test_null_elsewhere_in_the_response_leaves_finite_data_alone():
    response = InferenceResponse(
        "null", "1", [Tensor("y", "FP32", np.array([1.5], np.float32))], id="null"
    )
    body, _ = encode_response(response)
    assert json.loads(body)["outputs"][0]["data"] == [1.5]


def test_non_finite_strings_are_accepted_as_json_input():
    doc = {
        "inputs": [
            {
                "name": "x",
                "datatype": "FP32",
                "shape": [3],
                "data": ["NaN", "Infinity", "-Infinity"],
            }
        ]
    }
    data = decode_request(_json(doc)).inputs[0].data
    assert np.isnan(data[0]) and data[1] == np.inf and data[2] == -np.inf

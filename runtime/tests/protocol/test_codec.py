"""JSON and binary codecs of the Open Inference Protocol."""

from __future__ import annotations

import gzip
import json
import zlib

import numpy as np
import pytest

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
        "data": [1.5, None],
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

"""A 400 message repeats at most ~200 characters of any one string the caller sent.

Each body carries one 5000-character string where the decoder or the model's
validation names it in the error (input or output name, datatype, data value,
parameter); the answer must be a 400 whose message holds the start of it (at
most 200 characters of its text or repr), cut and marked with "...".
"""

from __future__ import annotations

import json
import re

import pytest

LONG = "N" * 5000
PATH = "/v2/models/digits/infer"


def _input(name="input", datatype="FP32", shape=(1, 64), data=None, **extra):
    item = {"name": name, "datatype": datatype, "shape": list(shape)}
    item["data"] = [0.5] * 64 if data is None else data
    item.update(extra)
    return item


CASES = {
    # decoder (protocol.codec)
    "name, unknown datatype": {"inputs": [_input(name=LONG, datatype="FP99")]},
    "datatype": {"inputs": [_input(datatype=LONG)]},
    "name, bad shape": {"inputs": [_input(name=LONG, shape="x")]},
    "name, wrong count": {"inputs": [_input(name=LONG, data=[1.0])]},
    "BYTES value not a string": {
        "inputs": [_input(datatype="BYTES", shape=(1,), data=[{"k": LONG}])]
    },
    "FP32 value not a number": {"inputs": [_input(data=[LONG] * 64)]},
    "binary_data_size": {"inputs": [_input(parameters={"binary_data_size": LONG})]},
    "name, parameters not an object": {"inputs": [_input(name=LONG, parameters=[1])]},
    "output name, parameters not an object": {
        "inputs": [_input()],
        "outputs": [{"name": LONG, "parameters": [1]}],
    },
    # validation against the model (service)
    "unknown input name": {"inputs": [_input(name=LONG)]},
    "unknown output name": {"inputs": [_input()], "outputs": [{"name": LONG}]},
    "classification value": {
        "inputs": [_input()],
        "outputs": [{"name": "probabilities", "parameters": {"classification": LONG}}],
    },
}


@pytest.mark.parametrize("body", CASES.values(), ids=CASES.keys())
def test_a_long_caller_string_comes_back_cut_to_200_characters(server, body):
    status, _, raw = server.request("POST", PATH, json.dumps(body).encode())
    assert status == 400, raw[:300]
    message = json.loads(raw)["error"]
    longest = max(len(run) for run in re.findall("N+", message))
    assert 100 <= longest <= 200, message[:300]
    assert "N" * longest + "..." in message or "N" * longest + "'..." in message
    assert len(message) < 600, message[:300]

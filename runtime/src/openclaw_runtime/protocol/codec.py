"""Decode OIP requests: JSON and the binary tensor extension (responses: :mod:`.encode`)."""

from __future__ import annotations

import math
import struct
from typing import Any, NoReturn

import numpy as np
import orjson

from ..config import ServerSettings
from ..errors import BadRequest, InvalidInput, clip
from .datatypes import DATATYPES
from .encode import encode_response, pack_bytes
from .types import InferenceRequest, RequestedOutput, Tensor

__all__ = ["decode_request", "encode_response", "pack_bytes", "unpack_bytes"]

_LEN = struct.Struct("<I")
# The wire is little-endian whatever the machine (built once: newbyteorder costs 0.14 us).
_LITTLE_ENDIAN = {name: dtype.newbyteorder("<") for name, dtype in DATATYPES.items()}
# The limits a caller gets without passing any: the defaults of the server settings.
_DEFAULT_LIMITS = ServerSettings()


def unpack_bytes(buf: memoryview | bytes, count: int, name: str) -> np.ndarray:
    """Parse ``count`` length-prefixed elements of a BYTES tensor."""
    end = len(buf)
    if count > end // 4:  # every element has its 4-byte length: refuse before allocating
        raise InvalidInput(
            f"input '{clip(name)}': {count} BYTES elements need at least {4 * count} bytes "
            f"(4 per element), binary_data_size is {end}; send a shape that matches the data"
        )
    # Slices of bytes (one object each, not a view and a copy) into a list, then one
    # assignment: 2-4x faster than setting array items one by one.
    data = bytes(buf)
    unpack = _LEN.unpack_from
    items = []
    append = items.append
    pos = 0
    for i in range(count):
        if pos + 4 > end:
            raise InvalidInput(
                f"input '{clip(name)}': BYTES data ends after {i} of {count} elements"
            )
        (size,) = unpack(data, pos)
        pos += 4
        stop = pos + size
        if stop > end:
            raise InvalidInput(f"input '{clip(name)}': BYTES element {i} runs past the data")
        append(data[pos:stop])
        pos = stop
    if pos != end:
        raise InvalidInput(
            f"input '{clip(name)}': {end - pos} trailing bytes after {count} elements"
        )
    out = np.empty(count, dtype=np.object_)
    out[:] = items
    return out


def _bad_shape(name: str, raw: Any, max_dims: int) -> NoReturn:
    if type(raw) is list and len(raw) > max_dims:
        raise InvalidInput(
            f"input '{clip(name)}': shape has {len(raw)} dimensions, more than the {max_dims} this "
            "server accepts (server.max_tensor_dims); send the tensor with fewer dimensions"
        )
    raise InvalidInput(
        f"input '{clip(name)}': shape must be a list of non-negative ints, got {clip(repr(raw))}"
    )


def _check_count(
    name: str, shape: tuple[int, ...], count: int, max_elements: int, available: int, unit: str
) -> None:
    """Refuse a shape over ``max_elements`` or ``available`` (what the bytes hold, per ``unit``)."""
    if count > max_elements:
        raise InvalidInput(
            f"input '{clip(name)}': shape {list(shape)} has {count} elements, more than the "
            f"{max_elements} this server accepts in one tensor (server.max_tensor_elements); "
            "send smaller tensors or split the batch into several requests"
        )
    if count > available:
        raise InvalidInput(
            f"input '{clip(name)}': shape {list(shape)} needs {count} values but the request has "
            f"room for at most {available} ({unit}); send a shape that matches the data"
        )
    if count == 0:
        # numpy refuses (ValueError) a zero-size shape whose other dimensions overflow.
        span = math.prod(d for d in shape if d)
        if span > max_elements:
            raise InvalidInput(
                f"input '{clip(name)}': empty shape {list(shape)} has non-zero dimensions that "
                f"multiply to {span}, more than {max_elements} (server.max_tensor_elements); "
                "send the real sizes of the other dimensions"
            )


def _reshape(name: str, arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    try:
        return arr.reshape(shape)
    except ValueError as exc:  # the checks above should make this unreachable
        raise InvalidInput(
            f"input '{clip(name)}': shape {list(shape)} is not usable: {exc}"
        ) from None


def _from_json(
    name: str, datatype: str, shape: tuple[int, ...], data: Any, max_elements: int, text: int
) -> np.ndarray:
    count = math.prod(shape)
    if count > max_elements or count > text or count == 0:
        _check_count(
            name, shape, count, max_elements, text, f"{text} bytes of JSON at 1 byte per value"
        )
    if datatype == "BYTES":
        flat = _flatten(data) if isinstance(data, list) else [data]
        arr = np.empty(len(flat), dtype=np.object_)
        for i, item in enumerate(flat):
            if isinstance(item, str):
                arr[i] = item.encode("utf-8")
            else:
                raise InvalidInput(
                    f"input '{clip(name)}': BYTES data must be strings, got {clip(repr(item))}"
                )
    else:
        try:
            arr = np.array(data, dtype=DATATYPES[datatype])
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidInput(
                f"input '{clip(name)}': data is not a (nested) list of {datatype} values: "
                f"{clip(str(exc))}"
            ) from exc
    if arr.size != count:
        raise InvalidInput(
            f"input '{clip(name)}': shape {list(shape)} needs {count} values, data has {arr.size}"
        )
    return _reshape(name, arr, shape)


def _flatten(data: list) -> list:
    out: list = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def _from_binary(
    name: str, datatype: str, shape: tuple[int, ...], chunk: memoryview, max_elements: int
) -> np.ndarray:
    count = math.prod(shape)
    # Every element takes a byte at least (a BYTES one 4): one compare on the hot path.
    if count > max_elements or count > len(chunk) or count == 0:
        per = 4 if datatype == "BYTES" else _LITTLE_ENDIAN[datatype].itemsize
        _check_count(
            name,
            shape,
            count,
            max_elements,
            len(chunk) // per,
            f"{len(chunk)} bytes of binary data, {per} per {datatype} element at least",
        )
    if datatype == "BYTES":
        return _reshape(name, unpack_bytes(chunk, count, name), shape)
    dtype = _LITTLE_ENDIAN[datatype]
    expected = count * dtype.itemsize
    if len(chunk) != expected:
        raise InvalidInput(
            f"input '{clip(name)}': shape {list(shape)} as {datatype} needs {expected} bytes, "
            f"binary_data_size is {len(chunk)}"
        )
    return _reshape(name, np.frombuffer(chunk, dtype=dtype), shape)


def _not_json(exc: orjson.JSONDecodeError) -> BadRequest:
    return BadRequest(
        f"request body is not valid JSON ({exc}); note that JSON has no NaN or Infinity: "
        'send such values as the strings "NaN", "Infinity" and "-Infinity", or with the '
        "binary tensor extension"
    )


def decode_request(
    body: bytes, header_length: int | None = None, limits: ServerSettings = _DEFAULT_LIMITS
) -> InferenceRequest:
    """Decode a request body; ``header_length`` is Inference-Header-Content-Length, if sent.

    Every input's shape is checked against ``limits`` (``max_tensor_dims``,
    ``max_tensor_elements``) and against the bytes that carry it before any array
    is allocated for it.
    """
    view = memoryview(body)
    if header_length is None:
        header, binary = body, b""
    else:
        if header_length < 0 or header_length > len(view):
            raise BadRequest(
                f"Inference-Header-Content-Length {header_length} is outside the body "
                f"({len(view)} bytes)"
            )
        if header_length == 0:
            # Raw binary mode: the body is the single input's data, described by the model.
            return InferenceRequest(inputs=[], raw=bytes(view))
        header, binary = view[:header_length], view[header_length:]
    try:
        doc = orjson.loads(header)
    except orjson.JSONDecodeError as exc:
        raise _not_json(exc) from exc
    if not isinstance(doc, dict):
        raise BadRequest("request body must be a JSON object with an 'inputs' list")
    raw_inputs = doc.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise BadRequest("request needs a non-empty 'inputs' list")
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise BadRequest("'parameters' must be an object")
    offset = 0
    max_elements, max_dims, text = limits.max_tensor_elements, limits.max_tensor_dims, len(header)
    inputs: list[Tensor] = []
    for position, item in enumerate(raw_inputs):
        tensor, offset = _decode_input(position, item, binary, offset, max_elements, max_dims, text)
        inputs.append(tensor)
    if offset != len(binary):
        raise BadRequest(f"{len(binary) - offset} bytes of binary data are not claimed by inputs")
    raw_outputs = doc.get("outputs")
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        request_id = str(request_id)
    return InferenceRequest(
        inputs=inputs,
        id=request_id,
        parameters=params,
        outputs=None if raw_outputs is None else _requested_outputs(raw_outputs),
        binary_output=bool(params.get("binary_data_output", False)),
    )


def _decode_input(
    position: int,
    item: Any,
    binary: memoryview | bytes,
    offset: int,
    max_elements: int,
    max_dims: int,
    text: int,
) -> tuple[Tensor, int]:
    """Return ``inputs[position]`` as a tensor, and where the next input's binary data starts.

    ``text`` is the size of the JSON header: JSON data holds at most one value a byte.
    """
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise BadRequest(f"inputs[{position}] must be an object with a string 'name'")
    name = item["name"]
    datatype = item.get("datatype")
    if datatype not in DATATYPES:
        raise InvalidInput(
            f"input '{clip(name)}': datatype {clip(repr(datatype))} is not one of "
            + ", ".join(DATATYPES)
        )
    raw_shape = item.get("shape")
    if type(raw_shape) is not list or len(raw_shape) > max_dims:
        _bad_shape(name, raw_shape, max_dims)
    for d in raw_shape:  # a loop: all() over a generator costs twice as much for short shapes
        if type(d) is not int or d < 0:
            _bad_shape(name, raw_shape, max_dims)
    shape = tuple(raw_shape)
    in_params = item.get("parameters") or {}
    if not isinstance(in_params, dict):
        raise BadRequest(f"input '{clip(name)}': 'parameters' must be an object")
    size = in_params.get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or size < 0 or offset + size > len(binary):
            raise InvalidInput(
                f"input '{clip(name)}': binary_data_size {clip(repr(size))} does not fit the "
                f"{len(binary) - offset} binary bytes left in the body"
            )
        arr = _from_binary(name, datatype, shape, binary[offset : offset + size], max_elements)
        return Tensor(name, datatype, arr, in_params), offset + size
    if "data" not in item:
        raise InvalidInput(f"input '{clip(name)}': needs 'data' or parameters.binary_data_size")
    arr = _from_json(name, datatype, shape, item["data"], max_elements, text)
    return Tensor(name, datatype, arr, in_params), offset


def _requested_outputs(raw_outputs: Any) -> list[RequestedOutput]:
    """Return the request's ``outputs`` list, checked."""
    if not isinstance(raw_outputs, list):
        raise BadRequest("'outputs' must be a list")
    outputs = []
    for position, item in enumerate(raw_outputs):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise BadRequest(f"outputs[{position}] must be an object with a string 'name'")
        out_params = item.get("parameters") or {}
        if not isinstance(out_params, dict):
            raise BadRequest(f"output '{clip(item['name'])}': 'parameters' must be an object")
        binary_flag = out_params.get("binary_data")
        outputs.append(
            RequestedOutput(
                item["name"], None if binary_flag is None else bool(binary_flag), out_params
            )
        )
    return outputs

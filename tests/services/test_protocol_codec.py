"""OIP v2 codec: JSON and Triton binary bodies decode to checked tensors; responses encode back."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from services.errors import InvalidInputError
from services.protocol import (HEADER_LENGTH, decode_bytes_elements, decode_infer_request,
                               encode_bytes_elements, encode_infer_response)


def body(document: dict) -> bytes:
    return json.dumps(document).encode()


def test_bytes_elements_round_trip_and_wire_format() -> None:
    items = [b"hello", b"", "caf\u00e9".encode()]
    wire = encode_bytes_elements(items)
    assert wire[:9] == struct.pack("<I", 5) + b"hello"
    assert decode_bytes_elements(wire, 3, "x") == items


@pytest.mark.parametrize("wire, count, message", [
    (b"\x05\x00\x00\x00abc", 1, "declares 5 bytes"),
    (b"\x01\x00", 1, "4-byte length"),
    (encode_bytes_elements([b"a", b"b"]), 1, "holds more"),
    (encode_bytes_elements([b"a"]), 2, "holds 1"),
])
def test_malformed_bytes_elements_are_refused(wire: bytes, count: int, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        decode_bytes_elements(wire, count, "input 'text'")


def test_json_request_decodes_every_field() -> None:
    decoded = decode_infer_request(body({
        "id": "abc", "parameters": {"timeout": 250_000, "binary_data_output": True},
        "inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, 4.5]]},
                   {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["hi"]}],
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": False}}]}), None)
    assert decoded.id == "abc" and decoded.timeout_s == 0.25 and decoded.binary_default
    x, text = decoded.inputs
    assert x.array.dtype == np.float32 and x.array.shape == (2, 2) and x.array[1, 1] == 4.5
    assert list(text.array) == [b"hi"] and text.from_json
    assert decoded.outputs == ("probabilities",)
    assert decoded.binary_outputs == {"probabilities": False}


def test_binary_request_decodes_tensors_in_input_order() -> None:
    floats = np.arange(6, dtype=np.float32)
    texts = encode_bytes_elements([b"\x89PNG raw", b"two"])
    header = body({"inputs": [
        {"name": "a", "shape": [2, 3], "datatype": "FP32",
         "parameters": {"binary_data_size": floats.nbytes}},
        {"name": "image", "shape": [2], "datatype": "BYTES",
         "parameters": {"binary_data_size": len(texts)}}]})
    decoded = decode_infer_request(header + floats.tobytes() + texts, str(len(header)))
    assert np.array_equal(decoded.inputs[0].array, floats.reshape(2, 3))
    assert list(decoded.inputs[1].array) == [b"\x89PNG raw", b"two"]
    assert not decoded.inputs[1].from_json


@pytest.mark.parametrize("payload, header, message", [
    (b"{not json", None, "not valid JSON"),
    (b"[1, 2]", None, "JSON object"),
    (b'{"inputs": []}', None, "inputs"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "extra": 1}',
     None, "extra"),
    (b'{"inputs": [{"name": "x", "shape": [-1], "datatype": "FP32", "data": [1]}]}', None,
     "greater than or equal to 0"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "BF16", "data": [1]}]}', None,
     "not supported"),
    (b'{"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2]}]}', None,
     "holds 3 elements"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [1.5]}]}', None,
     "not INT64"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": ["1"]}]}', None,
     "not FP32"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "UINT8", "data": [300]}]}', None,
     "do not fit"),
    (b'{"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [[1], [2, 3]]}]}', None,
     "regular array"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": [5]}]}', None,
     "must be strings"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]}', None, "no 'data'"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]},'
     b' {"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}', None, "repeat"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}],'
     b' "parameters": {"timeout": "soon"}}', None, "timeout"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}', "abc",
     HEADER_LENGTH),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}', "9999",
     "only"),
    (b'[' * 100_000, None, "not valid JSON"),
])
def test_malformed_requests_are_invalid_input(payload: bytes, header: str | None,
                                              message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        decode_infer_request(payload, header)


def test_response_json_and_binary_forms() -> None:
    probs = np.array([[0.25, 0.75]], dtype=np.float32)
    logits = np.array([[1.0, 2.0]], dtype=np.float32)
    text, length = encode_infer_response("m", 3, "rid", {"probabilities": probs, "logits": logits},
                                         {})
    assert length is None
    document = json.loads(text)
    assert document["model_version"] == "3" and document["id"] == "rid"
    assert document["outputs"][0] == {"name": "probabilities", "datatype": "FP32", "shape": [1, 2],
                                      "data": [0.25, 0.75]}
    raw, length = encode_infer_response("m", 3, None, {"probabilities": probs, "logits": logits},
                                        {"logits": True})
    header = json.loads(raw[:length])
    assert "id" not in header
    assert header["outputs"][1]["parameters"] == {"binary_data_size": 8}
    assert np.array_equal(np.frombuffer(raw[length:], dtype=np.float32), logits.ravel())


def _binary(size: int, shape: int) -> bytes:
    return body({"inputs": [{"name": "x", "shape": [shape], "datatype": "FP32",
                             "parameters": {"binary_data_size": size}}]})


@pytest.mark.parametrize("header, tail, message", [
    (_binary(4, 2), b"abcd", "needs 8 bytes"),
    (_binary(8, 1), b"abcd", "runs past"),
    (_binary(4, 1), b"abcdEXTRA", "beyond"),
])
def test_inconsistent_binary_sizes_are_invalid_input(header: bytes, tail: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        decode_infer_request(header + tail, str(len(header)))

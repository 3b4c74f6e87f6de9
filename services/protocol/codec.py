"""Decoding OIP v2 inference requests and encoding responses: JSON bodies and Triton's binary
tensor extension.

With the binary extension, the body is a JSON header of ``Inference-Header-Content-Length`` bytes
followed by the tensors' raw bytes, in the order of the inputs whose parameters carry
``binary_data_size``. Responses put an output in binary form when the output's ``binary_data``
parameter (or else the request's ``binary_data_output``) is true.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from services.errors import InvalidInputError
from services.protocol.datatypes import (BYTES, NUMPY_DTYPES, check_datatype, datatype_of_array,
                                         decode_bytes_elements, encode_bytes_elements)
from services.protocol.models import InferRequest, RequestInput
from services.validation import summary

HEADER_LENGTH = "Inference-Header-Content-Length"
"""HTTP header giving the length of the JSON part of a binary-extension body."""
_NUMERIC_KINDS = {"BOOL": "b", "UINT": "biu", "INT": "biu", "FP": "biuf"}
# ASCII digits only: str.isdigit() also accepts "²" and other digits that int() refuses, and a
# header longer than 18 digits could not describe a body that passed the gateway's size limit.
_LENGTH_VALUE = re.compile(r"[0-9]{1,18}")
MAX_TIMEOUT_US = 2**63 - 1
"""Largest ``parameters.timeout`` accepted (Triton's is a 64-bit count of microseconds)."""


@dataclass(frozen=True)
class Tensor:
    """A decoded input tensor.

    Attributes:
        name: Tensor name.
        datatype: OIP datatype.
        shape: Dimensions.
        array: The values; for BYTES a flat ``object`` array of ``bytes`` (JSON strings are encoded
            as UTF-8).
        from_json: Whether the values came in the JSON body (a base64 image is text there).
    """

    name: str
    datatype: str
    shape: tuple[int, ...]
    array: np.ndarray
    from_json: bool


@dataclass(frozen=True)
class DecodedRequest:
    """An inference request, decoded and checked for internal consistency (not yet against a model).

    Attributes:
        id: The request's ``id``, echoed in the answer.
        inputs: The input tensors.
        outputs: Names of the outputs asked for (``None``: all).
        binary_outputs: Output name to whether it asked for binary data (outputs not named here
            follow ``binary_default``).
        binary_default: The request's ``binary_data_output``.
        timeout_s: The request's ``parameters.timeout`` in seconds (Triton sends microseconds).
    """

    id: str | None
    inputs: tuple[Tensor, ...]
    outputs: tuple[str, ...] | None
    binary_outputs: dict[str, bool]
    binary_default: bool
    timeout_s: float | None


def _parse_header(body: bytes, header_length: str | None) -> tuple[InferRequest, memoryview]:
    if header_length is None:
        header, rest = body, memoryview(b"")
    else:
        if _LENGTH_VALUE.fullmatch(header_length.strip()) is None:
            raise InvalidInputError(f"{HEADER_LENGTH} {header_length[:40]!r} is not a non-negative "
                                    "integer of at most 18 digits")
        size = int(header_length.strip())
        if size > len(body):
            raise InvalidInputError(f"{HEADER_LENGTH} is {size} but the body has only {len(body)} bytes")
        header, rest = body[:size], memoryview(body)[size:]
    try:
        raw = json.loads(header)
    except (ValueError, RecursionError) as exc:
        raise InvalidInputError(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInputError("the request body must be a JSON object with 'inputs'")
    try:
        return InferRequest.model_validate(raw), rest
    except ValidationError as exc:
        raise InvalidInputError(f"invalid inference request: {summary(exc.errors())}") from exc


def _flag(parameters: dict[str, Any] | None, key: str, where: str) -> bool | None:
    value = (parameters or {}).get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidInputError(f"{where}: parameter {key!r} must be true or false, got {value!r}")
    return value


def _json_values(spec: RequestInput, count: int, where: str) -> np.ndarray:
    if spec.data is None:
        raise InvalidInputError(f"{where}: no 'data' and no binary_data_size parameter")
    data = spec.data if isinstance(spec.data, list) else [spec.data]
    if spec.datatype == BYTES:
        try:
            flat = np.asarray(data, dtype=object).ravel() if data else np.empty(0, dtype=object)
        except ValueError as exc:
            raise InvalidInputError(f"{where}: 'data' is not a regular array: {exc}") from exc
        items = []
        for item in flat:
            if not isinstance(item, str):
                raise InvalidInputError(f"{where}: BYTES elements in JSON must be strings, got "
                                        f"{type(item).__name__}")
            items.append(item.encode("utf-8", errors="surrogatepass"))
        values = np.empty(len(items), dtype=object)
        values[:] = items
    else:
        try:
            loose = np.asarray(data)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"{where}: 'data' is not a regular array of numbers: {exc}") from exc
        prefix = next(p for p in ("BOOL", "UINT", "INT", "FP") if spec.datatype.startswith(p))
        if loose.size and loose.dtype.kind not in _NUMERIC_KINDS[prefix]:
            raise InvalidInputError(f"{where}: 'data' holds {loose.dtype.kind!r}-kind values, which "
                                    f"are not {spec.datatype}")
        try:
            with np.errstate(over="raise"):  # 1e300 as FP32 is an error, not a silent inf
                values = loose.astype(NUMPY_DTYPES[spec.datatype], casting="unsafe").ravel()
            if loose.dtype.kind in "iu" and values.size and not np.array_equal(values, loose.ravel()):
                raise OverflowError("values out of range")
        except (OverflowError, ValueError, FloatingPointError) as exc:
            raise InvalidInputError(f"{where}: values do not fit {spec.datatype}: {exc}") from exc
    if values.size != count:
        raise InvalidInputError(f"{where}: shape {spec.shape} holds {count} elements but 'data' "
                                f"holds {values.size}")
    return values


def _binary_values(spec: RequestInput, chunk: memoryview, count: int, where: str) -> np.ndarray:
    if spec.data is not None:
        raise InvalidInputError(f"{where}: give either 'data' or binary_data_size, not both")
    if spec.datatype == BYTES:
        items = decode_bytes_elements(chunk, count, where)  # checks count before allocating
        values = np.empty(len(items), dtype=object)
        values[:] = items
        return values
    dtype = NUMPY_DTYPES[spec.datatype]
    if len(chunk) != count * dtype.itemsize:
        raise InvalidInputError(f"{where}: shape {spec.shape} of {spec.datatype} needs "
                                f"{count * dtype.itemsize} bytes, binary_data_size gives {len(chunk)}")
    return np.frombuffer(chunk, dtype=dtype.newbyteorder("<")).astype(dtype, copy=True)


def decode_infer_request(body: bytes, header_length: str | None) -> DecodedRequest:
    """Decode an inference request body.

    Args:
        body: The whole HTTP body.
        header_length: The ``Inference-Header-Content-Length`` header (``None`` for pure JSON).

    Returns:
        The decoded request; tensors have the declared shape and datatype.

    Raises:
        InvalidInputError: Malformed JSON, unknown keys, unsupported datatypes, data that does not
            match its shape, binary sizes that do not add up to the body.
    """
    request, rest = _parse_header(body, header_length)
    tensors, offset = [], 0
    names = [spec.name for spec in request.inputs]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"input names repeat: {names}")
    for spec in request.inputs:
        where = f"input {spec.name!r}"
        check_datatype(spec.datatype, where)
        count = math.prod(spec.shape)
        size = (spec.parameters or {}).get("binary_data_size")
        if size is None:
            values = _json_values(spec, count, where)
        else:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise InvalidInputError(f"{where}: binary_data_size must be a non-negative integer")
            if offset + size > len(rest):
                raise InvalidInputError(f"{where}: binary_data_size {size} runs past the end of the "
                                        f"body ({len(rest) - offset} bytes left)")
            values = _binary_values(spec, rest[offset:offset + size], count, where)
            offset += size
        array = values if spec.datatype == BYTES else values.reshape(spec.shape)
        tensors.append(Tensor(spec.name, spec.datatype, tuple(spec.shape), array, size is None))
    if offset != len(rest):
        raise InvalidInputError(f"the body holds {len(rest) - offset} bytes beyond the inputs' "
                                "binary_data_size")
    binary_outputs = {}
    for output in request.outputs or []:
        flag = _flag(output.parameters, "binary_data", f"output {output.name!r}")
        if flag is not None:
            binary_outputs[output.name] = flag
        if (output.parameters or {}).get("classification"):
            raise InvalidInputError(f"output {output.name!r}: the classification extension is not "
                                    "supported; ask for the probabilities output")
    timeout = (request.parameters or {}).get("timeout")
    if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool)
                                or not 0 <= timeout <= MAX_TIMEOUT_US):
        raise InvalidInputError(f"parameters.timeout must be an integer of microseconds from 0 to "
                                f"{MAX_TIMEOUT_US}, got {str(timeout)[:40]!r}")
    return DecodedRequest(
        id=request.id, inputs=tuple(tensors),
        outputs=None if request.outputs is None else tuple(o.name for o in request.outputs),
        binary_outputs=binary_outputs,
        binary_default=bool(_flag(request.parameters, "binary_data_output", "parameters")),
        timeout_s=None if timeout is None else timeout / 1e6)


def encode_infer_response(model_name: str, model_version: int, request_id: str | None,
                          outputs: dict[str, np.ndarray], binary: dict[str, bool]
                          ) -> tuple[bytes, int | None]:
    """Encode an inference response.

    Args:
        model_name: The model's name.
        model_version: The version that answered.
        request_id: The request's ``id`` (echoed when given).
        outputs: Output name to array, in answer order.
        binary: Output name to whether it goes in binary form.

    Returns:
        The body and, when some output is binary, the length of its JSON header (the value of
        ``Inference-Header-Content-Length``); ``None`` for a pure JSON body.
    """
    documents, chunks = [], []
    for name, array in outputs.items():
        datatype = datatype_of_array(array)
        document: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if binary.get(name, False):
            if datatype == BYTES:
                raw = encode_bytes_elements([bytes(item) for item in array.ravel()])
            else:
                raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
            document["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        elif datatype == BYTES:
            document["data"] = [bytes(item).decode("utf-8", errors="replace") for item in array.ravel()]
        else:
            document["data"] = array.ravel().tolist()
        documents.append(document)
    header: dict[str, Any] = {"model_name": model_name, "model_version": str(model_version)}
    if request_id is not None:
        header["id"] = request_id
    header["outputs"] = documents
    text = json.dumps(header, allow_nan=True).encode()
    if not chunks:
        return text, None
    return text + b"".join(chunks), len(text)

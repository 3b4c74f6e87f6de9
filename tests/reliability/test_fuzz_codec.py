"""The OIP v2 request codec and the binding to a model's signature, fuzzed: every body ends in a
decoded (and bound) request or in :class:`InvalidInputError`, never in another exception, and no
claimed size is allocated before the bytes are there."""

from __future__ import annotations

import json
import math
import time
import tracemalloc

import numpy as np
import pytest

from services.errors import InvalidInputError
from services.protocol import BYTES, DATATYPES, ModelInput, Signature, TensorInfo, decode_infer_request
from services.protocol.signature import MAX_IMAGE_PIXELS
from tests.reliability.fuzzing import FAST_EXAMPLES, SOAK_EXAMPLES, fuzz
from tests.reliability.strategies import Body, any_infer_bodies, encoded_image, png_claiming

MAX_ITEMS = 8
TEXT = Signature("text", (TensorInfo("input_ids", "INT64", (-1, -1)),
                          TensorInfo("attention_mask", "INT64", (-1, -1))),
                 (TensorInfo("embedding", "FP32", (-1, 4)),), max_dynamic=16)
IMAGE = Signature("image", (TensorInfo("pixel_values", "FP32", (-1, 3, 8, 8)),),
                  (TensorInfo("probabilities", "FP32", (-1, 2)), TensorInfo("logits", "FP32", (-1, 2))),
                  image_resize=8)
PHOTO = Signature("image", IMAGE.tensors, IMAGE.outputs, image_resize=256)
"""An image model that resizes to 256 like the real ones: where extreme aspect ratios blow up."""


def _check_bound(signature: Signature, bound: ModelInput) -> None:
    assert 1 <= bound.items <= MAX_ITEMS
    if bound.raw is not None:
        kind = str if signature.raw_kind == "text" else bytes
        assert all(isinstance(item, kind) and item for item in bound.raw)
    else:
        assert bound.tensors is not None and sorted(bound.tensors) == sorted(
            t.name for t in signature.tensors)


def check_codec(body: Body) -> str:
    """Decode ``body``, then bind it to the text and the image signatures."""
    try:
        decoded = decode_infer_request(body.content, body.header_length)
    except InvalidInputError:
        return "refused by the codec"
    for tensor in decoded.inputs:
        assert tensor.datatype in DATATYPES
        assert tensor.array.size == math.prod(tensor.shape)
        if tensor.datatype != BYTES:
            assert tensor.array.shape == tensor.shape
        else:
            assert all(isinstance(item, bytes) for item in tensor.array)
    bound = 0
    for signature in (TEXT, IMAGE, PHOTO):
        try:
            _check_bound(signature, signature.bind(decoded.inputs, MAX_ITEMS))
            signature.check_outputs(decoded.outputs)
            bound += 1
        except InvalidInputError:
            pass
    return "bound" if bound else "refused by the signatures"


def test_codec_and_binding_fuzz() -> None:
    outcomes = fuzz("codec + binding", any_infer_bodies, check_codec, 3 * FAST_EXAMPLES)
    total = sum(outcomes.values())
    # The strategies reach every stage: the JSON parser, the binding, and through it.
    assert outcomes["refused by the codec"] > total // 20, outcomes
    assert outcomes["refused by the signatures"] > total // 20, outcomes
    assert outcomes["bound"] > total // 50, outcomes


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_codec_and_binding_fuzz_soak() -> None:
    outcomes = fuzz("codec + binding (soak)", any_infer_bodies, check_codec, SOAK_EXAMPLES)
    assert sum(outcomes.values()) >= SOAK_EXAMPLES


def _header(inputs: list[dict], **extra: object) -> bytes:
    return json.dumps({"inputs": inputs, **extra}).encode()


@pytest.mark.parametrize("header_length", ["\xb2", "\u0661\u0662", "9" * 5000, "-1", "1e3", " ", "12x"])
def test_header_lengths_that_are_not_plain_digits_are_400(header_length: str) -> None:
    """"²" passes str.isdigit() and fails int(); 5000 digits fail int() too (a 500 before)."""
    body = _header([{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}])
    with pytest.raises(InvalidInputError, match="Inference-Header-Content-Length"):
        decode_infer_request(body, header_length)


@pytest.mark.parametrize("timeout", [2**63, 10**400, -1, 1.5, True, "1"])
def test_timeouts_out_of_range_are_400(timeout: object) -> None:
    """10**400 microseconds overflowed the conversion to seconds (a 500 before)."""
    body = _header([{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}],
                   parameters={"timeout": timeout})
    with pytest.raises(InvalidInputError, match="timeout"):
        decode_infer_request(body, None)


@pytest.mark.parametrize("datatype, value", [("FP16", 1e10), ("FP16", 100000), ("FP32", 1e300),
                                             ("FP16", 2**62)])
def test_json_numbers_that_overflow_the_datatype_are_400(datatype: str, value: float) -> None:
    """1e300 as FP32 overflowed with a RuntimeWarning (a 500 under -W error, inf otherwise)."""
    body = _header([{"name": "x", "shape": [1], "datatype": datatype, "data": [value]}])
    with pytest.raises(InvalidInputError, match=f"do not fit {datatype}"):
        decode_infer_request(body, None)


@pytest.mark.parametrize("shape, datatype, size", [
    ([2**31, 2**31], "FP32", 4), ([10**15] * 8, "BYTES", 5), ([2**63], "INT64", 8),
    ([1], "BYTES", 2**40), ([4], "FP64", 10**12)])
def test_claimed_sizes_are_refused_without_allocating_them(shape: list[int], datatype: str,
                                                           size: int) -> None:
    header = _header([{"name": "x", "shape": shape, "datatype": datatype,
                       "parameters": {"binary_data_size": size}}])
    body = header + b"\x01\x00\x00\x00x\x00\x00\x00"
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInputError):
            decode_infer_request(body, str(len(header)))
        with pytest.raises(InvalidInputError):
            decode_infer_request(body, str(10**12))  # a JSON header longer than the body
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"decoding a lying request allocated {peak} bytes"


def _image(data: bytes) -> tuple:
    from services.protocol import Tensor

    array = np.empty(1, dtype=object)
    array[:] = [data]
    return (Tensor("image", BYTES, (1,), array, from_json=False),)


@pytest.mark.parametrize("data, why", [
    (encoded_image(20_000, 1), "resized to a shorter side of 256"),
    (encoded_image(1, 400_000), "resized to a shorter side of 256"),
    (png_claiming(2**31 - 1, 2**31 - 1), "more than"),
    (png_claiming(6_000, 5_000), "more than"),
])
def test_enormous_or_extreme_images_are_refused_from_their_header(data: bytes, why: str) -> None:
    """A 99-byte 20000 x 1 PNG made the 256-pixel resize allocate 5 GB for 8 s (the host's memory,
    or its process under a limit); the header alone now refuses it, in milliseconds."""
    start = time.perf_counter()
    with pytest.raises(InvalidInputError, match=why):
        PHOTO.bind(_image(data), MAX_ITEMS)
    assert time.perf_counter() - start < 0.5
    assert len(data) < 5_000


def test_large_but_ordinary_photos_pass_the_header_check() -> None:
    for width, height in ((6_000, 4_000), (4_000, 6_000), (224, 224), (1, 1)):
        assert width * height <= MAX_IMAGE_PIXELS
        assert PHOTO.bind(_image(png_claiming(width, height)), MAX_ITEMS).items == 1

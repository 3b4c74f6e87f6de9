"""Hypothesis strategies of hostile inference requests: Open Inference Protocol v2 bodies (JSON and
Triton's binary extension) with lying sizes, wrong datatypes and shapes, huge dimension products and
non-UTF-8 BYTES; image files that are valid, truncated, random, or that claim enormous or extreme
sizes; and ``/v1`` predict bodies.

A drawn request is a :class:`Body`: the bytes to post and the ``Inference-Header-Content-Length``
header (``None``: pure JSON). About half of the structured requests are well-formed, so the fuzzing
reaches the binding and the model, not only the JSON parser.
"""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from services.protocol.datatypes import BYTES, DATATYPES, NUMPY_DTYPES, encode_bytes_elements

TENSOR_NAMES = ["text", "image", "pixel_values", "input_ids", "attention_mask"]
"""Input names of the two test models (raw and tensor inputs), drawn more often than random ones."""
OUTPUT_NAMES = ["probabilities", "logits", "embedding"]
OIP_KEYS = ["inputs", "name", "shape", "datatype", "data", "parameters", "outputs", "id",
            "binary_data_size", "binary_data", "binary_data_output", "timeout", "classification"]
# Header values a client might send; latin-1 only, as HTTP carries them. "\xb2" is "²", which
# str.isdigit() accepts and int() refuses.
JUNK_LENGTHS = ["", "-1", " 12 ", "\xb2", "1e3", "0x10", "9" * 40, "12abc", "+5", "1_0"]
JUNK_SIZES: list[Any] = [-1, 2**40, 2**70, 1.5, "12", True, None, [], {}]
HUGE_DIMENSIONS = [0, 1, 3, 2**31, 10**15, 2**63, 10**30]


@dataclass(frozen=True)
class Body:
    """A request body and its ``Inference-Header-Content-Length`` (``None``: pure JSON)."""

    content: bytes
    header_length: str | None = None

    def headers(self) -> dict[str, bytes]:
        """The HTTP headers that go with the body (bytes: "²" is one latin-1 byte on the wire)."""
        return {} if self.header_length is None else {"Inference-Header-Content-Length":
                                                      self.header_length.encode("latin-1")}


# ---- images ------------------------------------------------------------------------------------
_FORMAT_MODES = {"PNG": ["RGB", "L", "RGBA", "P", "1", "I;16", "LA"], "JPEG": ["RGB", "L", "CMYK"],
                 "GIF": ["P", "L"], "BMP": ["RGB", "L", "P", "1"], "TIFF": ["RGB", "L", "CMYK"]}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` greyscale pixels but whose data holds a
    few bytes only: what an attacker sends to make a server allocate the declared size."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + _png_chunk(b"IEND", b""))


def encoded_image(width: int, height: int, fmt: str = "PNG", mode: str = "L", seed: int = 0) -> bytes:
    """A real encoded image with random pixels (a constant one when ``width * height`` is large)."""
    if max(width, height) > 256:
        image = Image.new(mode, (width, height))
    else:
        pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
        image = Image.fromarray(pixels, "RGB").convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@st.composite
def image_files(draw: st.DrawFn) -> bytes:
    """An image file as a client may send it: valid in several formats and modes, truncated,
    random bytes, a header claiming up to 2^31 x 2^31 pixels, or a valid image of an extreme
    aspect ratio (a 99-byte PNG of 20000 x 1 pixels that a resize would blow up)."""
    kind = draw(st.sampled_from(["valid", "valid", "valid", "truncated", "random", "claimed",
                                 "extreme"]))
    if kind == "random":
        prefix = draw(st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a"]))
        return prefix + draw(st.binary(min_size=1, max_size=64))
    if kind == "claimed":
        side = st.sampled_from([1, 8, 4_000, 5_000, 6_000, 10_000, 20_000, 65_535, 2**31 - 1])
        return png_claiming(draw(side), draw(side))
    if kind == "extreme":
        long = draw(st.sampled_from([1_000, 50_000, 390_000, 400_000, 4_000_000]))
        size = (long, 1) if draw(st.booleans()) else (1, long)
        return encoded_image(*size, mode=draw(st.sampled_from(["1", "L"])))
    fmt = draw(st.sampled_from(sorted(_FORMAT_MODES)))
    data = encoded_image(draw(st.integers(1, 40)), draw(st.integers(1, 40)), fmt,
                         draw(st.sampled_from(_FORMAT_MODES[fmt])), draw(st.integers(0, 2**16)))
    if kind == "truncated":
        return data[:draw(st.integers(1, max(1, len(data) - 1)))]
    return data


# ---- JSON ----------------------------------------------------------------------------------------
CHARACTERS = st.characters() | st.characters(categories=["Cs"])
"""Any character, lone surrogates (which no UTF-8 text holds, but JSON's \\ud800 escapes do) too."""
_SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=10))
json_values = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(OIP_KEYS) | st.text(max_size=6), inner, max_size=4),
    max_leaves=20)
"""Any JSON value (NaN and Infinity included, which Python's json reads), keys mostly from OIP."""


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


@st.composite
def _bytes_items(draw: st.DrawFn, name: str, count: int, binary: bool) -> list[Any]:
    """``count`` BYTES elements: text (non-UTF-8 bytes too, in binary form) or image files."""
    if name == "image":
        files = [draw(image_files()) for _ in range(min(count, 3))]
        files += [files[-1]] * (count - len(files)) if files else []
        return files if binary else [base64.b64encode(f).decode() for f in files]
    if binary:
        return draw(st.lists(st.binary(max_size=12) | st.text(max_size=8).map(str.encode),
                             min_size=count, max_size=count))
    # JSON strings, lone surrogates included (json.dumps escapes them as \ud800)
    return draw(st.lists(st.text(CHARACTERS, max_size=8), min_size=count,
                         max_size=count))


LIES = ["plan", "size", "tensor", "wide", "id", "outputs", "timeout", "flags", "header", "bytes"]
"""What a lying request lies about, one thing each, so that no earlier refusal hides a later one:
a random input set, a tensor's binary_data_size, its document (huge shape, data, keys), JSON numbers
beyond the datatype, the id, the outputs, the timeout, the binary flags, the header length, bytes."""


@dataclass(frozen=True)
class Plan:
    """What a tensor should look like before the lies: name, datatype, shape, value range."""

    name: str
    datatype: str
    shape: list[int]
    low: int | None = None
    high: int | None = None


@st.composite
def plans(draw: st.DrawFn, random: bool) -> list[Plan]:
    """The input set of one request: one of the test models' (raw text, raw images, image
    tensors, text tensors; batch 1 to 9 against a limit of 8), or a random one."""
    n = draw(st.integers(1, 9))
    kind = "random" if random else draw(st.sampled_from(["text", "image", "pixels", "tokens"]))
    if kind in ("text", "image"):
        return [Plan(kind, BYTES, [n])]
    if kind == "pixels":
        return [Plan("pixel_values", "FP32", [n, 3, 8, draw(st.sampled_from([8, 8, 7]))])]
    if kind == "tokens":
        length = draw(st.integers(1, 18))
        high = draw(st.sampled_from([13, 13, 2**40]))  # 14 tokens in the vocabulary; beyond it
        return [Plan("input_ids", "INT64", [n, length], 0, high),
                Plan("attention_mask", "INT64", [n, length], 1, 1)]
    return [Plan(draw(st.sampled_from(TENSOR_NAMES) | st.text(max_size=8)),
                 draw(st.sampled_from(sorted(DATATYPES)) | st.sampled_from(["BF16", "fp32", ""])),
                 draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
            for _ in range(draw(st.integers(0, 3)))]


def _numbers(draw: st.DrawFn, plan: Plan, count: int, wide: bool) -> np.ndarray:
    if wide:  # float64 or int64 values for a narrower datatype
        return draw(arrays(np.float64 if plan.datatype.startswith("FP") else np.int64, count))
    dtype = NUMPY_DTYPES[plan.datatype]
    if plan.low is not None and plan.high is not None:
        return draw(arrays(dtype, count, elements=st.integers(plan.low, plan.high)))
    if plan.datatype.startswith("FP") and draw(st.booleans()):
        return draw(arrays(dtype, count, elements=st.floats(-10, 10, width=dtype.itemsize * 8)))
    return draw(arrays(dtype, count))


@st.composite
def tensors(draw: st.DrawFn, plan: Plan, lie: str | None) -> tuple[dict[str, Any], bytes]:
    """One input tensor after ``plan``: its JSON document and its binary chunk (empty in JSON
    form), with ``lie`` told about it if it is a tensor's lie."""
    count = math.prod(plan.shape)
    binary = draw(st.booleans()) and lie != "wide"
    document: dict[str, Any] = {"name": plan.name, "shape": list(plan.shape),
                                "datatype": plan.datatype}
    chunk = b""
    if plan.datatype == BYTES:
        items = draw(_bytes_items(plan.name, count, binary))
        if binary:
            chunk = encode_bytes_elements(items)
        else:
            document["data"] = items
    elif plan.datatype in NUMPY_DTYPES:
        values = _numbers(draw, plan, count, lie == "wide")
        if binary:
            chunk = values.astype(values.dtype.newbyteorder("<")).tobytes()
        else:
            document["data"] = (values.reshape(plan.shape).tolist() if draw(st.booleans())
                                else values.tolist())
    else:
        document["data"] = draw(json_values)
    if binary:
        size: Any = len(chunk)
        if lie == "size":
            size = draw(st.integers(-8, 8).map(lambda d: len(chunk) + d) | st.sampled_from(JUNK_SIZES))
        document["parameters"] = {"binary_data_size": size}
    if lie == "tensor":
        mutation = draw(st.sampled_from(["huge_shape", "wrong_data", "extra_key", "drop_key",
                                         "both_forms"]))
        if mutation == "huge_shape":
            document["shape"] = draw(st.lists(st.sampled_from(HUGE_DIMENSIONS), min_size=1,
                                              max_size=9))
        elif mutation == "wrong_data":
            document["data"] = draw(json_values)
        elif mutation == "extra_key":
            document[draw(st.sampled_from(["value", "contents", "Name"]))] = draw(json_values)
        elif mutation == "drop_key":
            document.pop(draw(st.sampled_from(["name", "shape", "datatype"])))
        elif binary:
            document["data"] = [0] * count
    return document, chunk


@st.composite
def infer_bodies(draw: st.DrawFn) -> Body:
    """A structured inference request: honest half the time, else telling one lie of
    :data:`LIES`."""
    lie = draw(st.sampled_from(LIES)) if draw(st.booleans()) else None
    inputs = [draw(tensors(plan, lie)) for plan in draw(plans(lie == "plan"))]
    document: dict[str, Any] = {"inputs": [doc for doc, _ in inputs]}
    if draw(st.booleans()) or lie == "id":
        document["id"] = draw(st.integers() | st.text(min_size=257, max_size=300) | json_values
                              if lie == "id" else st.text(max_size=256))
    if draw(st.integers(0, 3)) == 0 or lie == "outputs":
        name = st.sampled_from(OUTPUT_NAMES) | st.text(max_size=6)
        parameters = (st.fixed_dictionaries({}, optional={"binary_data": st.booleans() | json_values,
                                                          "classification": st.integers(0, 3)})
                      if lie == "outputs" else st.fixed_dictionaries({}, optional={
                          "binary_data": st.booleans()}))
        document["outputs"] = draw(st.lists(st.fixed_dictionaries(
            {"name": name}, optional={"parameters": parameters}), max_size=3))
    if draw(st.booleans()) or lie in ("timeout", "flags"):
        timeout = (st.sampled_from([-1, 2**63, 2**64, 10**309, 10**400, 1.5, "1", True, None])
                   | st.integers() if lie == "timeout" else st.sampled_from([10**6, 10**7]))
        flag = st.booleans() | json_values if lie == "flags" else st.booleans()
        required = {"timeout"} if lie == "timeout" else {"binary_data_output"} if lie == "flags" \
            else set()
        fields = {"timeout": timeout, "binary_data_output": flag}
        document["parameters"] = draw(st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required},
            optional={k: v for k, v in fields.items() if k not in required}))
    header = _dumps(document)
    chunks = b"".join(chunk for _, chunk in inputs)
    header_length: str | None = str(len(header)) if chunks or draw(st.booleans()) else None
    if lie == "header":
        header_length = draw(st.sampled_from(JUNK_LENGTHS) | st.none()
                             | st.integers(-20, 20).map(lambda d: str(max(0, len(header) + d))))
    content = header + chunks
    if lie == "bytes" and content:
        mutation = draw(st.sampled_from(["truncate", "append", "flip"]))
        if mutation == "truncate":
            content = content[:draw(st.integers(0, len(content) - 1))]
        elif mutation == "append":
            content += draw(st.binary(min_size=1, max_size=32))
        else:
            at = draw(st.integers(0, len(content) - 1))
            content = content[:at] + bytes([content[at] ^ draw(st.integers(1, 255))]) + content[at + 1:]
    return Body(content, header_length)


junk_bodies = st.one_of(
    st.binary(max_size=300).map(Body),
    json_values.map(lambda value: Body(_dumps(value))),
    st.tuples(st.binary(max_size=200), st.sampled_from(JUNK_LENGTHS) | st.integers(0, 400).map(str)
              ).map(lambda pair: Body(*pair)))
"""Unstructured bodies: random bytes, random JSON, random bytes with a header length."""

any_infer_bodies = st.one_of(infer_bodies(), infer_bodies(), junk_bodies)
"""Two parts structured requests, one part junk."""


@st.composite
def predict_bodies(draw: st.DrawFn) -> Body:
    """``/v1`` predict bodies: texts, ``{"b64": ...}`` images (valid, enormous, junk, not base64),
    mixtures, and junk JSON."""
    kind = draw(st.sampled_from(["texts", "images", "images", "mixed", "junk"]))
    if kind == "junk":
        return Body(_dumps(draw(json_values)))
    texts = st.text(CHARACTERS, max_size=12)
    images = st.one_of(image_files().map(lambda f: {"b64": base64.b64encode(f).decode()}),
                       st.fixed_dictionaries({"b64": st.text(max_size=12)}),
                       st.fixed_dictionaries({"b64": st.text(max_size=4)}, optional={"x": json_values}))
    item = {"texts": texts, "images": images, "mixed": texts | images}[kind]
    return Body(_dumps({"instances": draw(st.lists(item, min_size=0, max_size=5))}))

"""Binding request tensors to a model's signature: the raw input or the full ONNX input set."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest

from services.errors import InvalidInputError
from services.protocol import Signature, Tensor
from zhijian_core.bundle.io import read_manifest


def raw(name: str, items: list[bytes], from_json: bool = False, datatype: str = "BYTES",
        shape: tuple[int, ...] | None = None) -> Tensor:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return Tensor(name, datatype, shape if shape is not None else (len(items),), array, from_json)


def tensor(name: str, array: np.ndarray, datatype: str) -> Tensor:
    return Tensor(name, datatype, array.shape, array, True)


@pytest.fixture
def image_signature(versions: dict[str, dict[int, Path]]) -> Signature:
    return Signature.from_manifest(read_manifest(versions["images"][1]))


@pytest.fixture
def text_signature(versions: dict[str, dict[int, Path]]) -> Signature:
    return Signature.from_manifest(read_manifest(versions["texts"][1]))


def test_signature_from_manifest(image_signature: Signature, text_signature: Signature) -> None:
    assert image_signature.raw.metadata().model_dump() == {"name": "image", "datatype": "BYTES",
                                                           "shape": [-1]}
    assert [(t.name, t.datatype, t.shape) for t in image_signature.tensors] == [
        ("pixel_values", "FP32", (-1, 3, 8, 8))]
    assert [t.name for t in image_signature.outputs] == ["probabilities", "logits"]
    assert text_signature.max_dynamic == 16
    assert text_signature.metadata_parameters()["tensor_inputs"][0]["name"] == "input_ids"


def test_raw_text_and_images_bind(image_signature: Signature, text_signature: Signature) -> None:
    assert text_signature.bind((raw("text", [b"good movie", "caf\u00e9".encode()]),), 8).raw == (
        "good movie", "caf\u00e9")
    assert image_signature.bind((raw("image", [b"\x89PNG"]),), 8).raw == (b"\x89PNG",)
    encoded = base64.b64encode(b"\x89PNG")
    assert image_signature.bind((raw("image", [encoded], from_json=True),), 8).raw == (b"\x89PNG",)


def test_tensor_inputs_bind(image_signature: Signature, text_signature: Signature) -> None:
    pixels = np.zeros((2, 3, 8, 8), dtype=np.float32)
    bound = image_signature.bind((tensor("pixel_values", pixels, "FP32"),), 8)
    assert bound.items == 2 and bound.raw is None
    ids = np.ones((1, 5), dtype=np.int64)
    bound = text_signature.bind((tensor("attention_mask", ids, "INT64"),
                                 tensor("input_ids", ids, "INT64")), 8)
    assert set(bound.tensors) == {"input_ids", "attention_mask"}


@pytest.mark.parametrize("make, message", [
    (lambda: (raw("text", [b"x"]),), "not an input set"),
    (lambda: (raw("image", [b"x"], datatype="FP32"),), "BYTES with shape"),
    (lambda: (raw("image", [b"x"], shape=(1, 1)),), "BYTES with shape"),
    (lambda: (raw("image", []),), "no items"),
    (lambda: (raw("image", [b"x"] * 9),), "more than the 8"),
    (lambda: (raw("image", [b""]),), "empty"),
    (lambda: (raw("image", [b"not base64!"], from_json=True),), "base64"),
    (lambda: (tensor("pixel_values", np.zeros((1, 3, 8, 8), np.float64), "FP64"),), "must be FP32"),
    (lambda: (tensor("pixel_values", np.zeros((1, 3, 8, 9), np.float32), "FP32"),), "shape"),
    (lambda: (tensor("pixel_values", np.zeros((3, 8, 8), np.float32), "FP32"),), "shape"),
])
def test_image_binding_errors(image_signature: Signature, make, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        image_signature.bind(make(), 8)


@pytest.mark.parametrize("make, message", [
    (lambda: (raw("text", [b"\xff\xfe"]),), "not UTF-8"),
    (lambda: (tensor("input_ids", np.ones((1, 17), np.int64), "INT64"),
              tensor("attention_mask", np.ones((1, 17), np.int64), "INT64")), "dimension 1 is 17"),
    (lambda: (tensor("input_ids", np.ones((2, 3), np.int64), "INT64"),
              tensor("attention_mask", np.ones((1, 3), np.int64), "INT64")), "batch size"),
    (lambda: (tensor("input_ids", np.ones((1, 3), np.int64), "INT64"),), "not an input set"),
])
def test_text_binding_errors(text_signature: Signature, make, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        text_signature.bind(make(), 8)


def test_output_selection(image_signature: Signature) -> None:
    assert image_signature.check_outputs(None) == ("probabilities", "logits")
    assert image_signature.check_outputs(("logits",)) == ("logits",)
    with pytest.raises(InvalidInputError, match="unknown or repeated"):
        image_signature.check_outputs(("nope",))
    with pytest.raises(InvalidInputError, match="unknown or repeated"):
        image_signature.check_outputs(("logits", "logits"))

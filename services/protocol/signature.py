"""A served model's signature (from its manifest) and the binding of request tensors to it.

A request gives exactly one complete input set: the raw input (``text`` BYTES of UTF-8 strings, or
``image`` BYTES of encoded PNG/JPEG files, base64 text in a JSON body), shape ``[n]``; or every ONNX
input of the model, with its datatype, rank and fixed dimensions, all with the same batch size ``n``.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from services.errors import InvalidInputError
from services.protocol.codec import Tensor
from services.protocol.datatypes import BYTES, datatype_of_manifest
from services.protocol.models import MetadataTensor
from zhijian_core.bundle.manifest import Manifest, TensorSpec
from zhijian_core.preprocess.image import resized_size
from zhijian_core.preprocess.spec import ImagePreprocessSpec, TextPreprocessSpec

RawKind = Literal["text", "image"]
MAX_IMAGE_PIXELS = 25_000_000
"""Most pixels of a request image, as its header declares them, and of that image once resized to
the bundle's ``resize``: a 24-megapixel photo passes; a 99-byte PNG of 20000 x 1 pixels, which a
resize to 256 would blow up to 5 GB, does not. Checked from the header, before any pixel is decoded."""


@dataclass(frozen=True)
class TensorInfo:
    """A tensor of the signature: name, OIP datatype, dimensions (``-1`` variable)."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def metadata(self) -> MetadataTensor:
        """The tensor as OIP metadata."""
        return MetadataTensor(name=self.name, datatype=self.datatype, shape=list(self.shape))


@dataclass(frozen=True)
class ModelInput:
    """One request's input, bound to the model: raw items or the ONNX tensors (never both).

    Attributes:
        raw: Texts (``str``) or encoded images (``bytes``).
        tensors: ONNX input name to array, all with the same first dimension.
    """

    raw: tuple[str, ...] | tuple[bytes, ...] | None = None
    tensors: dict[str, np.ndarray] | None = None

    @property
    def items(self) -> int:
        """Number of items (rows) in the input."""
        if self.raw is not None:
            return len(self.raw)
        return len(next(iter(self.tensors.values())))  # type: ignore[union-attr]


def _info(spec: TensorSpec) -> TensorInfo:
    return TensorInfo(spec.name, datatype_of_manifest(spec.dtype),
                      tuple(-1 if isinstance(d, str) else int(d) for d in spec.shape))


@dataclass(frozen=True)
class Signature:
    """What a served version accepts and answers.

    Attributes:
        raw_kind: ``text`` or ``image``: the raw input's name.
        tensors: The ONNX inputs, in model order.
        outputs: The ONNX outputs, in model order.
        max_dynamic: Largest accepted value of a variable non-batch dimension (the text spec's
            ``max_length``), ``None`` without a limit.
        image_resize: The image spec's shorter side after resizing (for :data:`MAX_IMAGE_PIXELS`).
    """

    raw_kind: RawKind
    tensors: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    max_dynamic: int | None = None
    image_resize: int | None = None

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> "Signature":
        """The signature a bundle's manifest declares."""
        spec = manifest.io.preprocess
        limit = spec.max_length if isinstance(spec, TextPreprocessSpec) else None
        resize = spec.resize if isinstance(spec, ImagePreprocessSpec) else None
        return cls(manifest.io.raw_input, tuple(_info(t) for t in manifest.io.inputs),
                   tuple(_info(t) for t in manifest.io.outputs), limit, resize)

    @property
    def raw(self) -> TensorInfo:
        """The raw input: ``text`` or ``image``, BYTES, shape ``[-1]``."""
        return TensorInfo(self.raw_kind, BYTES, (-1,))

    def bind(self, inputs: tuple[Tensor, ...], max_items: int) -> ModelInput:
        """Match a request's tensors to one complete input set of the model.

        Args:
            inputs: The decoded request tensors.
            max_items: Most items (rows) accepted in one request.

        Raises:
            InvalidInputError: Unknown or missing names, wrong datatypes, ranks or dimensions,
                no items or too many, text that is not UTF-8, image text that is not base64.
        """
        names = sorted(t.name for t in inputs)
        if names == [self.raw_kind]:
            return self._bind_raw(inputs[0], max_items)
        expected = sorted(t.name for t in self.tensors)
        if names != expected:
            raise InvalidInputError(
                f"inputs {names} are not an input set of this model: give [{self.raw_kind!r}] (BYTES, "
                f"shape [n]) or the tensors {expected}")
        return self._bind_tensors({t.name: t for t in inputs}, max_items)

    def check_outputs(self, names: tuple[str, ...] | None) -> tuple[str, ...]:
        """The outputs to answer: ``names`` if each is an output of the model, else all of them."""
        known = [t.name for t in self.outputs]
        if names is None:
            return tuple(known)
        unknown = [n for n in names if n not in known]
        if unknown or len(set(names)) != len(names):
            raise InvalidInputError(f"outputs {list(names)} name unknown or repeated outputs; this "
                                    f"model has {known}")
        return names

    def _count(self, items: int, max_items: int) -> None:
        if items == 0:
            raise InvalidInputError("the input holds no items; give at least one")
        if items > max_items:
            raise InvalidInputError(f"the input holds {items} items, more than the {max_items} "
                                    "accepted per request; split it")

    def _bind_raw(self, tensor: Tensor, max_items: int) -> ModelInput:
        where = f"input {tensor.name!r}"
        if tensor.datatype != BYTES or len(tensor.shape) != 1:
            raise InvalidInputError(f"{where} must be BYTES with shape [n], got {tensor.datatype} "
                                    f"{list(tensor.shape)}")
        self._count(tensor.shape[0], max_items)
        items: list = []
        for position, value in enumerate(tensor.array):
            if self.raw_kind == "text":
                try:
                    items.append(value.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise InvalidInputError(f"{where} item {position} is not UTF-8 text: {exc}") from exc
            elif tensor.from_json:
                try:
                    items.append(base64.b64decode(value, validate=True))
                except (binascii.Error, ValueError) as exc:
                    raise InvalidInputError(f"{where} item {position}: in a JSON body an image is "
                                            f"base64 text of the encoded file ({exc})") from exc
            else:
                items.append(value)
            if not items[-1]:
                raise InvalidInputError(f"{where} item {position} is empty")
            if self.raw_kind == "image":
                self._check_pixels(items[-1], f"{where} item {position}")
        return ModelInput(raw=tuple(items))

    def _check_pixels(self, data: bytes, where: str) -> None:
        """Refuse an image whose header declares, or whose resize would make, more than
        :data:`MAX_IMAGE_PIXELS` pixels. Only the header is read; a file whose header cannot be
        read is left to the preprocessor, which says why it cannot be decoded."""
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise InvalidInputError(f"{where}: the image declares more than {MAX_IMAGE_PIXELS} "
                                    "pixels") from None
        except Exception:  # not an image, or a header Pillow cannot parse: the preprocessor says so
            return
        if width * height > MAX_IMAGE_PIXELS:
            raise InvalidInputError(f"{where}: the image is {width} x {height} pixels, more than "
                                    f"the {MAX_IMAGE_PIXELS} accepted")
        if self.image_resize is not None and width > 0 and height > 0:
            new_width, new_height = resized_size(width, height, self.image_resize)
            if new_width * new_height > MAX_IMAGE_PIXELS:
                raise InvalidInputError(
                    f"{where}: the image is {width} x {height} pixels; resized to a shorter side of "
                    f"{self.image_resize} it would be {new_width} x {new_height}, more than the "
                    f"{MAX_IMAGE_PIXELS} pixels accepted (an aspect ratio this extreme is refused)")

    def _bind_tensors(self, given: dict[str, Tensor], max_items: int) -> ModelInput:
        batch = {t.shape[0] if t.shape else None for t in given.values()}
        arrays = {}
        for info in self.tensors:
            tensor, where = given[info.name], f"input {info.name!r}"
            if tensor.datatype != info.datatype:
                raise InvalidInputError(f"{where} must be {info.datatype}, got {tensor.datatype}")
            if len(tensor.shape) != len(info.shape):
                raise InvalidInputError(f"{where} must have shape {list(info.shape)} (-1: any), got "
                                        f"{list(tensor.shape)}")
            for axis, (want, got) in enumerate(zip(info.shape, tensor.shape)):
                if want != -1 and want != got:
                    raise InvalidInputError(f"{where} must have shape {list(info.shape)} (-1: any), "
                                            f"got {list(tensor.shape)}")
                if want == -1 and axis > 0 and (got == 0 or (self.max_dynamic is not None
                                                             and got > self.max_dynamic)):
                    raise InvalidInputError(f"{where}: dimension {axis} is {got}; give 1 to "
                                            f"{self.max_dynamic or 'any'}")
            arrays[info.name] = tensor.array
        if len(batch) != 1:
            raise InvalidInputError(f"the inputs disagree on the batch size: {sorted(batch)}")
        self._count(batch.pop(), max_items)
        return ModelInput(tensors=arrays)

    def metadata_inputs(self) -> list[MetadataTensor]:
        """The one input set metadata lists: the raw input."""
        return [self.raw.metadata()]

    def metadata_parameters(self) -> dict[str, object]:
        """The ONNX tensor inputs, also accepted, for the metadata's ``parameters``."""
        return {"raw_input": self.raw_kind,
                "tensor_inputs": [t.metadata().model_dump() for t in self.tensors]}

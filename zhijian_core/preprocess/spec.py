"""The closed specification of preprocessing: raw input (text, encoded image) to model tensors.

A spec is frozen into every run and later into the bundle manifest; the service rebuilds the exact
same preprocessing from it. Unknown keys are errors, so a spec written by a newer version with a
field this one does not know is refused rather than silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

TEXT_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
"""Tensors a text spec may produce."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextPreprocessSpec(_Spec):
    """Tokenize text with a `tokenizers` JSON file into ``input_ids`` and ``attention_mask``."""

    kind: Literal["text"] = "text"
    tokenizer_file: str = "tokenizer.json"
    """File name of the tokenizer (Hugging Face `tokenizers` JSON), relative to the assets folder."""
    max_length: PositiveInt = 128
    """Sequences longer than this are truncated (at the end) to this many tokens, specials included."""
    padding: Literal["longest", "max_length"] = "longest"
    """Pad a batch to its longest sequence, or always to ``max_length``."""
    pad_token_id: int = 0
    """Id written into padded positions of ``input_ids``."""
    input_names: tuple[str, ...] = ("input_ids", "attention_mask")
    """Tensors produced, in model-input order; ``token_type_ids`` may be added."""

    @field_validator("input_names")
    @classmethod
    def _check_input_names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in names if name not in TEXT_INPUT_NAMES]
        if unknown:
            raise ValueError(f"unknown text input names {unknown}; choose among {list(TEXT_INPUT_NAMES)}")
        if len(set(names)) != len(names):
            raise ValueError(f"input_names {list(names)} repeat a name; list each tensor once")
        if "input_ids" not in names:
            raise ValueError(f"input_names {list(names)} lack 'input_ids', which every text model takes")
        return names


class ImagePreprocessSpec(_Spec):
    """Decode an image, convert its mode, resize, centre-crop, scale and normalise it (NCHW float32)."""

    kind: Literal["image"] = "image"
    mode: Literal["RGB", "L"] = "RGB"
    """Colour mode the decoded image is converted to (greyscale input becomes RGB with ``RGB``)."""
    resize: PositiveInt = 224
    """Length of the shorter side after resizing (aspect ratio kept)."""
    resize_filter: Literal["nearest", "box", "bilinear", "hamming", "bicubic", "lanczos"] = "bilinear"
    """Pillow resampling filter used for the resize."""
    crop: PositiveInt | None = None
    """Side of the centre crop taken after resizing; ``None`` means the resized image is square-cropped to ``resize``."""
    scale: float = 1.0 / 255.0
    """Factor applied to the uint8 pixel values before normalisation."""
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    """Per-channel mean subtracted after scaling."""
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    """Per-channel standard deviation divided by after subtracting the mean."""
    input_name: str = "pixel_values"
    """Name of the produced tensor."""

    @model_validator(mode="after")
    def _check_consistent(self) -> "ImagePreprocessSpec":
        channels = 3 if self.mode == "RGB" else 1
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(
                f"mode {self.mode!r} has {channels} channel(s) but mean has {len(self.mean)} and std "
                f"{len(self.std)} values; give one mean and one std per channel")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std {list(self.std)} must be positive (it divides)")
        if self.crop is not None and self.crop > self.resize:
            raise ValueError(
                f"crop {self.crop} is larger than resize {self.resize}: the crop would need padding; "
                f"set crop <= resize")
        return self


PreprocessSpec = Annotated[Union[TextPreprocessSpec, ImagePreprocessSpec], Field(discriminator="kind")]
"""Either spec, told apart by its ``kind`` field."""

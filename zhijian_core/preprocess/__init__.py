"""The one torch-free preprocessing module: raw text or images to model tensors (numpy).

Training, evaluation, export and the service all build their preprocessing here from a closed spec,
so that the served tensors are exactly the trained ones. Only numpy, Pillow and `tokenizers` are
imported; never torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from zhijian_core.errors import ConfigError
from zhijian_core.preprocess.image import ImageInput, ImagePreprocessor
from zhijian_core.preprocess.spec import ImagePreprocessSpec, PreprocessSpec, TextPreprocessSpec
from zhijian_core.preprocess.text import TextPreprocessor

__all__ = [
    "ImageInput",
    "ImagePreprocessSpec",
    "ImagePreprocessor",
    "PreprocessSpec",
    "Preprocessor",
    "TextPreprocessSpec",
    "TextPreprocessor",
    "build_preprocessor",
]


@runtime_checkable
class Preprocessor(Protocol):
    """What every preprocessor offers: its spec, the tensor names it produces, and a batch call."""

    @property
    def spec(self) -> TextPreprocessSpec | ImagePreprocessSpec:
        """The spec the preprocessor follows."""
        ...

    @property
    def input_names(self) -> tuple[str, ...]:
        """Names of the tensors produced, in model-input order."""
        ...

    def __call__(self, inputs: Sequence[Any]) -> dict[str, np.ndarray]:
        """Turn one batch of raw inputs into named numpy arrays."""
        ...


def build_preprocessor(
    spec: TextPreprocessSpec | ImagePreprocessSpec, assets_dir: Path | None
) -> Preprocessor:
    """Build the preprocessor a spec describes.

    Args:
        spec: A text or image preprocessing spec.
        assets_dir: Folder of the preprocessing assets (the tokenizer file); required for text,
            ignored for images.

    Returns:
        A :class:`TextPreprocessor` or an :class:`ImagePreprocessor`.

    Raises:
        ConfigError: ``spec`` is not a known spec, or a text spec comes without ``assets_dir``.
        PreprocessError: The tokenizer file is missing or unreadable.
    """
    if isinstance(spec, TextPreprocessSpec):
        if assets_dir is None:
            raise ConfigError(
                f"a text spec needs assets_dir, the folder holding {spec.tokenizer_file!r}")
        return TextPreprocessor(spec, Path(assets_dir))
    if isinstance(spec, ImagePreprocessSpec):
        return ImagePreprocessor(spec)
    raise ConfigError(
        f"unknown preprocessing spec {type(spec).__name__}; give a TextPreprocessSpec or an "
        f"ImagePreprocessSpec")

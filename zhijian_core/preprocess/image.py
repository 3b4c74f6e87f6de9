"""Images to NCHW float32 tensors, decided by an :class:`ImagePreprocessSpec` alone.

The steps, in this order, match torchvision's ``Resize(size) + CenterCrop + ToDtype(scale) +
Normalize`` on a PIL image: decode, convert the mode, resize the shorter side with the named Pillow
filter, centre-crop (torchvision's rounding), scale, normalise per channel, HWC to CHW. EXIF
orientation is not applied, as torchvision's PIL loader does not apply it either.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from zhijian_core.errors import PreprocessError
from zhijian_core.preprocess.spec import ImagePreprocessSpec

ImageInput = Union[np.ndarray, bytes, Path, Image.Image]
"""One raw image: a uint8 array ``(H, W)`` or ``(H, W, C)``, encoded bytes, a file path or a PIL image."""

_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def resized_size(width: int, height: int, shorter_side: int) -> tuple[int, int]:
    """Return ``(width, height)`` with the shorter side set to ``shorter_side``, as torchvision computes it.

    Args:
        width: Width before resizing.
        height: Height before resizing.
        shorter_side: Requested length of the shorter side.
    """
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(shorter_side * long / short)
    return (shorter_side, new_long) if width <= height else (new_long, shorter_side)


def crop_box(width: int, height: int, side: int) -> tuple[int, int, int, int]:
    """Return the ``(left, top, right, bottom)`` box of a centred ``side`` square, torchvision's rounding.

    Args:
        width: Width of the image to crop (at least ``side``).
        height: Height of the image to crop (at least ``side``).
        side: Side of the square crop.
    """
    top = int(round((height - side) / 2.0))
    left = int(round((width - side) / 2.0))
    return left, top, left + side, top + side


def _decode(data: bytes | Path, position: int, mode: str) -> Image.Image:
    # Image.open keeps Pillow's decompression-bomb check (Image.MAX_IMAGE_PIXELS) on; converting
    # inside the block decodes the pixels before the file is closed.
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        with Image.open(source) as image:
            return image.convert(mode)
    except Image.DecompressionBombError as exc:
        raise PreprocessError(f"image {position} is too large to decode safely: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        what = f"file {data}" if isinstance(data, Path) else f"{len(data)} bytes"
        raise PreprocessError(f"image {position} ({what}) cannot be decoded as an image: {exc}") from exc


def _from_array(array: np.ndarray, position: int) -> Image.Image:
    if array.dtype != np.uint8:
        raise PreprocessError(f"image {position} is a {array.dtype} array; give uint8 pixels (0-255)")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise PreprocessError(
            f"image {position} has shape {array.shape}; give (H, W) or (H, W, C) with C in 1, 3, 4")
    if 0 in array.shape:
        raise PreprocessError(f"image {position} has shape {array.shape}, which holds no pixels")
    return Image.fromarray(np.ascontiguousarray(array))


def _to_pil(item: object, position: int, mode: str) -> Image.Image:
    """Return ``item`` as a PIL image in ``mode``."""
    if isinstance(item, (bytes, bytearray, memoryview)):
        return _decode(bytes(item), position, mode)
    if isinstance(item, Path):
        return _decode(item, position, mode)
    if isinstance(item, np.ndarray):
        image = _from_array(item, position)
    elif isinstance(item, Image.Image):
        image = item
    else:
        raise PreprocessError(
            f"image {position} is a {type(item).__name__}; give a uint8 array, encoded bytes, a Path "
            f"or a PIL image")
    return image if image.mode == mode else image.convert(mode)


class ImagePreprocessor:
    """Turn a batch of images into one float32 ``(N, C, H, W)`` array named ``spec.input_name``.

    Args:
        spec: The image preprocessing spec.
    """

    def __init__(self, spec: ImagePreprocessSpec) -> None:
        self._spec = spec
        self._side = spec.crop if spec.crop is not None else spec.resize
        self._scale = np.float32(spec.scale)
        self._mean = np.asarray(spec.mean, dtype=np.float32)
        self._std = np.asarray(spec.std, dtype=np.float32)

    @property
    def spec(self) -> ImagePreprocessSpec:
        """The spec this preprocessor follows."""
        return self._spec

    @property
    def input_names(self) -> tuple[str, ...]:
        """Names of the tensors produced (one)."""
        return (self._spec.input_name,)

    def __call__(self, images: Sequence[ImageInput]) -> dict[str, np.ndarray]:
        """Preprocess ``images`` into ``{spec.input_name: float32 array (N, C, side, side)}``.

        Args:
            images: The images of one batch.

        Returns:
            One array, under ``spec.input_name``.

        Raises:
            PreprocessError: The batch is empty, or an image is of an unknown kind, undecodable,
                too large, or an array of the wrong dtype or shape.
        """
        if isinstance(images, (np.ndarray, bytes, Path, Image.Image)):
            raise PreprocessError(
                f"expected a sequence of images, got one {type(images).__name__}; wrap it in a list "
                f"(or use transform_array_batch for an (N, H, W[, C]) array)")
        images = list(images)
        if not images:
            raise PreprocessError("empty batch: give at least one image")
        mode = self._spec.mode
        pixels = np.stack([self._geometry(_to_pil(item, i, mode)) for i, item in enumerate(images)])
        return {self._spec.input_name: self._normalise(pixels)}

    def transform_array_batch(self, array: np.ndarray) -> dict[str, np.ndarray]:
        """Preprocess a uint8 ``(N, H, W)`` or ``(N, H, W, C)`` array; same result as :meth:`__call__`.

        When the images already have the target size and mode (or are greyscale and the target is
        RGB) Pillow is skipped, which gives identical values.

        Args:
            array: A batch of uint8 images of one size.

        Returns:
            One array, under ``spec.input_name``.

        Raises:
            PreprocessError: The array is empty, not uint8 or not of rank 3 or 4.
        """
        if not isinstance(array, np.ndarray) or array.ndim not in (3, 4):
            shape = getattr(array, "shape", None)
            raise PreprocessError(f"expected a uint8 array (N, H, W[, C]), got shape {shape}")
        if array.dtype != np.uint8:
            raise PreprocessError(f"expected a uint8 array, got {array.dtype}")
        if len(array) == 0:
            raise PreprocessError("empty batch: give at least one image")
        if array.ndim == 4 and array.shape[3] == 1:
            array = array[..., 0]
        side = self._side
        channels = 1 if array.ndim == 3 else array.shape[3]
        same_size = array.shape[1] == array.shape[2] == side == self._spec.resize
        if same_size and (channels == 1 or (channels == 3 and self._spec.mode == "RGB")):
            pixels = array if array.ndim == 4 else array[..., None]
            if self._spec.mode == "RGB" and channels == 1:
                pixels = np.repeat(pixels, 3, axis=3)
            return {self._spec.input_name: self._normalise(pixels)}
        return self(list(array))

    def _geometry(self, image: Image.Image) -> np.ndarray:
        """Resize and centre-crop an image already in ``spec.mode``; returns uint8 ``(H, W, C)``."""
        spec = self._spec
        size = resized_size(image.width, image.height, spec.resize)
        if size != image.size:
            image = image.resize(size, resample=_FILTERS[spec.resize_filter])
        box = crop_box(image.width, image.height, self._side)
        if box != (0, 0, image.width, image.height):
            image = image.crop(box)
        pixels = np.asarray(image, dtype=np.uint8)
        return pixels if pixels.ndim == 3 else pixels[:, :, None]

    def _normalise(self, pixels: np.ndarray) -> np.ndarray:
        """Scale, subtract the mean, divide by the std (float32, as torchvision), NHWC to NCHW."""
        values = pixels.astype(np.float32) * self._scale
        values -= self._mean
        values /= self._std
        return np.ascontiguousarray(values.transpose(0, 3, 1, 2))

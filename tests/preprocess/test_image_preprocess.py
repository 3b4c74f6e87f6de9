"""ImagePreprocessor: exact values on tiny images, geometry, decoding and errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from zhijian_core.errors import PreprocessError
from zhijian_core.preprocess import ImagePreprocessor, ImagePreprocessSpec, build_preprocessor
from zhijian_core.preprocess.image import crop_box, resized_size

RAW = {"scale": 1.0, "mean": (0.0,), "std": (1.0,), "mode": "L"}
"""Greyscale spec fields that leave pixel values as they are, to check geometry exactly."""


def _encode(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def _rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_two_by_two_rgb_exact_values() -> None:
    pixels = np.array([[[0, 0, 0], [255, 255, 255]], [[51, 102, 153], [204, 0, 255]]], dtype=np.uint8)
    spec = ImagePreprocessSpec(resize=2, mean=(0.5, 0.5, 0.5), std=(0.5, 0.25, 0.5))
    out = ImagePreprocessor(spec)([pixels])["pixel_values"]
    assert out.dtype == np.float32 and out.shape == (1, 3, 2, 2)
    # (x / 255 - mean) / std by hand: 0 -> -1, 255 -> 1 (or 2 for std .25), 51 -> -0.6, 102 -> -0.8 ...
    expected = [[[-1.0, 1.0], [-0.6, 0.6]], [[-2.0, 2.0], [-0.4, -2.0]], [[-1.0, 1.0], [0.2, 1.0]]]
    np.testing.assert_allclose(out[0], expected, atol=1e-6)


def test_greyscale_becomes_three_equal_channels() -> None:
    grey = np.array([[0, 128], [255, 64]], dtype=np.uint8)
    spec = ImagePreprocessSpec(resize=2, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), scale=1.0)
    out = ImagePreprocessor(spec)([grey, grey[:, :, None]])["pixel_values"]
    for channel in range(3):
        np.testing.assert_array_equal(out[:, channel], [grey, grey])


def test_l_mode_keeps_one_channel() -> None:
    out = ImagePreprocessor(ImagePreprocessSpec(resize=2, **RAW))([_rgb(2, 2)])["pixel_values"]
    assert out.shape == (1, 1, 2, 2)


def test_resize_filter_is_honoured() -> None:
    image = (np.arange(16).reshape(4, 4) * 4).astype(np.uint8)
    nearest = ImagePreprocessor(ImagePreprocessSpec(resize=2, resize_filter="nearest", **RAW))([image])
    box = ImagePreprocessor(ImagePreprocessSpec(resize=2, resize_filter="box", **RAW))([image])
    # nearest samples the source pixel under each output centre (rows/cols 1 and 3); box averages 2x2.
    np.testing.assert_array_equal(nearest["pixel_values"][0, 0], [[20, 28], [52, 60]])
    np.testing.assert_array_equal(box["pixel_values"][0, 0], [[10, 18], [42, 50]])


def test_shorter_side_resize_then_centre_crop() -> None:
    image = np.tile(np.arange(8, dtype=np.uint8) * 10, (4, 1))  # 4 high, 8 wide, columns 0..70
    spec = ImagePreprocessSpec(resize=2, resize_filter="nearest", **RAW)
    out = ImagePreprocessor(spec)([image])["pixel_values"]
    # 8x4 -> 4x2 (nearest keeps columns 1, 3, 5, 7), then the centred 2x2 keeps columns 3 and 5.
    np.testing.assert_array_equal(out[0, 0], [[30, 50], [30, 50]])
    cropped = ImagePreprocessor(ImagePreprocessSpec(resize=4, crop=2, resize_filter="nearest", **RAW))
    assert cropped([image])["pixel_values"].shape == (1, 1, 2, 2)


def test_geometry_helpers_follow_torchvision() -> None:
    assert resized_size(10, 3, 2) == (6, 2)
    assert resized_size(3, 10, 2) == (2, 6)
    assert resized_size(7, 7, 3) == (3, 3)
    # round() is Python's: half to even, as torchvision's int(round((size - crop) / 2.0)).
    assert crop_box(5, 2, 2) == (2, 0, 4, 2)
    assert crop_box(7, 2, 2) == (2, 0, 4, 2)
    assert crop_box(6, 6, 3) == (2, 2, 5, 5)


def test_png_bytes_path_and_pil_match_the_array_path(tmp_path: Path) -> None:
    pixels = _rgb(9, 13)
    pre = ImagePreprocessor(ImagePreprocessSpec(resize=6, crop=5, resize_filter="bicubic"))
    expected = pre([pixels])["pixel_values"]
    png = _encode(pixels, "PNG")
    (tmp_path / "x.png").write_bytes(png)
    got = pre([png, tmp_path / "x.png", Image.fromarray(pixels)])["pixel_values"]
    for row in got:
        np.testing.assert_array_equal(row, expected[0])


def test_jpeg_bytes_match_their_decoded_array() -> None:
    jpeg = _encode(_rgb(12, 10), "JPEG")
    decoded = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    pre = ImagePreprocessor(ImagePreprocessSpec(resize=8))
    np.testing.assert_array_equal(pre([jpeg])["pixel_values"], pre([decoded])["pixel_values"])


def test_rgba_drops_alpha() -> None:
    rgba = np.concatenate([_rgb(3, 3), np.zeros((3, 3, 1), np.uint8)], axis=2)
    pre = ImagePreprocessor(ImagePreprocessSpec(resize=3))
    np.testing.assert_array_equal(pre([rgba])["pixel_values"], pre([rgba[:, :, :3]])["pixel_values"])


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 1), (5, 7, 3), (6, 6), (6, 6, 3)])
def test_array_batch_path_is_identical(shape: tuple[int, ...]) -> None:
    batch = np.random.default_rng(1).integers(0, 256, (3, *shape), dtype=np.uint8)
    pre = ImagePreprocessor(ImagePreprocessSpec(resize=6))
    fast = pre.transform_array_batch(batch)["pixel_values"]
    np.testing.assert_array_equal(fast, pre(list(batch))["pixel_values"])


@pytest.mark.parametrize("bad", [
    [], [b"not an image"], [_encode(_rgb(8, 8), "PNG")[:40]], [np.zeros((2, 2), np.float32)],
    [np.zeros((2, 2, 2), np.uint8)], [np.zeros((0, 3), np.uint8)], ["x.png"], np.zeros((2, 2), np.uint8),
])
def test_bad_inputs_are_refused(bad: object) -> None:
    with pytest.raises(PreprocessError):
        ImagePreprocessor(ImagePreprocessSpec(resize=2))(bad)  # type: ignore[arg-type]


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PreprocessError, match="cannot be decoded"):
        ImagePreprocessor(ImagePreprocessSpec(resize=2))([tmp_path / "missing.png"])


def test_decompression_bomb_limit_stays_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    with pytest.raises(PreprocessError, match="too large"):
        ImagePreprocessor(ImagePreprocessSpec(resize=2))([_encode(_rgb(8, 8), "PNG")])


def test_transform_array_batch_refuses_bad_arrays() -> None:
    pre = ImagePreprocessor(ImagePreprocessSpec(resize=2))
    for bad in (np.zeros((2, 2), np.uint8), np.zeros((0, 2, 2), np.uint8), np.zeros((1, 2, 2), np.int64)):
        with pytest.raises(PreprocessError):
            pre.transform_array_batch(bad)


@pytest.mark.parametrize("fields", [
    {"mode": "L"}, {"mean": (0.5, 0.5)}, {"std": (1.0, 0.0, 1.0)}, {"resize": 4, "crop": 5},
])
def test_spec_refuses_inconsistent_fields(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ImagePreprocessSpec(**fields)  # type: ignore[arg-type]


def test_build_preprocessor_for_images() -> None:
    pre = build_preprocessor(ImagePreprocessSpec(resize=4, input_name="x"), None)
    assert isinstance(pre, ImagePreprocessor) and pre.input_names == ("x",)

"""The image path equals torchvision's v2 pipeline on PIL images (this test alone imports torch).

torchvision resizes PIL images with Pillow itself, crops with the same rounding, then scales and
normalises in float32, so the values agree exactly; the tolerance (1e-6 absolute) only allows for
a different float32 operation order in a future torch.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from zhijian_core.preprocess import ImagePreprocessor, ImagePreprocessSpec

TOLERANCE = 1e-6

torch = pytest.importorskip("torch")
v2 = pytest.importorskip("torchvision.transforms.v2")
InterpolationMode = pytest.importorskip("torchvision.transforms").InterpolationMode


@pytest.mark.parametrize(("height", "width", "resize", "crop", "resize_filter", "grey"), [
    (37, 53, 24, 20, "bilinear", False),
    (53, 37, 24, None, "bicubic", False),
    (28, 28, 64, None, "bilinear", True),
    (31, 40, 17, 11, "lanczos", False),
    (40, 31, 16, 9, "nearest", True),
    (29, 33, 10, 7, "box", False),
    (33, 29, 10, 10, "hamming", False),
])
def test_matches_torchvision_v2(height: int, width: int, resize: int, crop: int | None,
                                resize_filter: str, grey: bool) -> None:
    rng = np.random.default_rng(height * width)
    shape = (height, width) if grey else (height, width, 3)
    image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
    spec = ImagePreprocessSpec(resize=resize, crop=crop, resize_filter=resize_filter)
    ours = ImagePreprocessor(spec)([image])["pixel_values"][0]

    reference = v2.Compose([
        v2.Resize(resize, interpolation=InterpolationMode[resize_filter.upper()], antialias=True),
        v2.CenterCrop(crop if crop is not None else resize),
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean=list(spec.mean), std=list(spec.std)),
    ])(image.convert("RGB")).numpy()
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() <= TOLERANCE

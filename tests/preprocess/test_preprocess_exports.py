"""The public surface of zhijian_core.preprocess is pinned: changing it is a deliberate act."""

from __future__ import annotations

import zhijian_core.preprocess as preprocess


def test_exported_members() -> None:
    assert sorted(preprocess.__all__) == [
        "ImageInput", "ImagePreprocessSpec", "ImagePreprocessor", "PreprocessSpec", "Preprocessor",
        "TextPreprocessSpec", "TextPreprocessor", "build_preprocessor",
    ]
    for name in preprocess.__all__:
        assert getattr(preprocess, name) is not None

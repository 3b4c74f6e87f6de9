"""A small real bundle (a tiny timm ViT served as is) for the reading and verifying tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

_BUILT: dict[str, Path] = {}


@pytest.fixture
def bundle(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """A fresh copy of an embedding bundle of ``timm:test_vit`` (exported once per session)."""
    from zhijian_core.export import from_ptm, write_model_bundle

    if "vit" not in _BUILT:
        out = tmp_path_factory.mktemp("bundles") / "vit"
        write_model_bundle(from_ptm("timm:test_vit", None), "tiny-vit", out)
        _BUILT["vit"] = out
    copy = tmp_path / "bundle"
    shutil.copytree(_BUILT["vit"], copy)
    return copy

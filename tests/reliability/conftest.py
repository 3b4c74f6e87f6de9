"""Tiny bundles made once per session for the reliability tests, and the check that every non-2xx
answer a test here sees is JSON ``{"error": ...}`` with a status from the error table."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.services.bundles import IMAGE_SIDE, LABELS, image_graph, make_image_bundle, make_text_bundle
from tests.services.conftest import _every_error_answer_is_json  # noqa: F401 (autouse here too)
from zhijian_core.bundle.io import MODEL, write_bundle
from zhijian_core.bundle.manifest import (IO, Evidence, Lineage, Manifest, MethodLineage, Parity,
                                          PTMLineage, Task, TensorSpec)
from zhijian_core.preprocess.spec import ImagePreprocessSpec

PHOTO_RESIZE = 256
"""The shorter side the ``photos`` model resizes to, as real image models do (then crops 8 x 8)."""


def make_photo_bundle(target: Path) -> Path:
    """The tiny image classifier behind a real model's preprocessing: resize the shorter side to
    256, centre-crop to the graph's 8 x 8 (what makes an extreme aspect ratio expensive)."""
    def fill(tmp: Path) -> Manifest:
        image_graph(tmp / MODEL, 7)
        return Manifest(
            lineage=Lineage(model_name="photos", ptm=PTMLineage(spec="tiny", identity="tiny",
                                                                digest="ab" * 32),
                            method=MethodLineage(name="linear_probe", family="architect"),
                            code_version="0.0.test", created_at="2026-01-01T00:00:00+00:00"),
            task=Task(kind="classification", labels=LABELS),
            io=IO(inputs=[TensorSpec(name="pixel_values", dtype="float32",
                                     shape=["batch", 3, IMAGE_SIDE, IMAGE_SIDE])],
                  outputs=[TensorSpec(name="probabilities", dtype="float32", shape=["batch", 2]),
                           TensorSpec(name="logits", dtype="float32", shape=["batch", 2])],
                  raw_input="image",
                  preprocess=ImagePreprocessSpec(resize=PHOTO_RESIZE, crop=IMAGE_SIDE)),
            opset=17, files={},
            evidence=Evidence(parity=Parity(max_abs_diff=1e-7, tolerance=1e-4, passed=True,
                                            batch_sizes=[1, 4])))

    write_bundle(target, fill)
    return target


@pytest.fixture(scope="session")
def reliability_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[int, Path]]:
    """Model name to version to bundle folder: ``images`` v1 and ``texts`` v1 (the serving tests'
    tiny models) and ``photos`` v1 (:func:`make_photo_bundle`)."""
    root = tmp_path_factory.mktemp("reliability-bundles")
    return {"images": {1: make_image_bundle(root / "images" / "1", seed=1)},
            "texts": {1: make_text_bundle(root / "texts" / "1", seed=1)},
            "photos": {1: make_photo_bundle(root / "photos" / "1")}}


@pytest.fixture(scope="session")
def registry(reliability_bundles: dict[str, dict[int, Path]],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An embedded (MLflow, SQLite) registry of its own, with ``images`` and ``texts`` v1 in
    production."""
    from zhijian_core.registry import Registry, promote

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHIJIAN_HOME", str(tmp_path_factory.mktemp("reliability-home")))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        registry = Registry(lock_timeout_s=5.0)
        for name, versions in reliability_bundles.items():
            assert registry.register(versions[1], name) == 1
            promote(registry, name, 1, "production", actor="test", force=True,
                    reason="test bundles: the text one has no evaluation")
        yield registry

"""Tiny bundles made once per session, gateways over them, and the check that every non-2xx
answer any serving test sees is JSON with ``error`` and a status from the error table."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.services.bundles import make_image_bundle, make_text_bundle
from tests.services.gateways import ERROR_ANSWERS, check_error_answer

@pytest.fixture(autouse=True)
def _every_error_answer_is_json() -> Iterator[None]:
    """After each test: the error answers it caused all follow the table."""
    start = len(ERROR_ANSWERS)
    yield
    for path, status, body in ERROR_ANSWERS[start:]:
        check_error_answer(path, status, body)


@pytest.fixture(scope="session")
def bundle_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Versions 1-5 of the image model (different weights) and versions 1-2 of the text model."""
    root = tmp_path_factory.mktemp("service-bundles")
    for version in range(1, 6):
        make_image_bundle(root / "images" / str(version), seed=version)
    for version in (1, 2):
        make_text_bundle(root / "texts" / str(version), seed=version)
    return root


@pytest.fixture
def versions(bundle_root: Path) -> dict[str, dict[int, Path]]:
    """Model name to version to bundle folder."""
    return {name: {int(p.name): p for p in (bundle_root / name).iterdir()}
            for name in ("images", "texts")}

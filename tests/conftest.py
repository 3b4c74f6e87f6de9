"""Test-wide settings: offline hubs, a private ZhiJian home, and time limits by marker."""

from __future__ import annotations

import os

import pytest

# No test may reach a model hub: every model is tiny and random, or packaged.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Time limits (seconds) by marker; a test's own @pytest.mark.timeout wins.
MARKER_TIMEOUTS = {"e2e": 600, "realptm": 300}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is not None:
            continue
        for marker, seconds in MARKER_TIMEOUTS.items():
            if item.get_closest_marker(marker) is not None:
                item.add_marker(pytest.mark.timeout(seconds))
                break


@pytest.fixture(autouse=True)
def _zhijian_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs stored by a test go to a private folder, never to the checkout's ``.zhijian``."""
    monkeypatch.setenv("ZHIJIAN_HOME", str(tmp_path_factory.mktemp("zhijian-home")))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

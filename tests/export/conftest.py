"""Stored runs of every first method on the three tiny backbones, for the export tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.experiment.conftest import write_idx_images, write_sentiment_csv
from tests.tiny import tiny_bert_dir
from zhijian_core.experiment.config import parse_experiment
from zhijian_core.experiment.runner import run_experiment
from zhijian_core.experiment.session import Session, resolve_device
from zhijian_core.runs.store import RunStore
from zhijian_core.train.result import RunResult

ORT_GPU_PYTHON = Path(__file__).resolve().parents[2] / ".venv-ort-gpu" / "bin" / "python"


@pytest.fixture(autouse=True)
def gpu_package_python(monkeypatch: pytest.MonkeyPatch) -> Path | None:
    """Every bundle exported here is also loaded with onnxruntime-gpu in the side environment
    (``make ort-gpu-env``, part of ``make test``); without it the check is skipped, except in CI."""
    if not ORT_GPU_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{ORT_GPU_PYTHON} is missing: `make test` creates it (make ort-gpu-env)")
        monkeypatch.delenv("ZHIJIAN_ORT_GPU_PYTHON", raising=False)
        return None
    monkeypatch.setenv("ZHIJIAN_ORT_GPU_PYTHON", str(ORT_GPU_PYTHON))
    return ORT_GPU_PYTHON


FAST = {"epochs": 1, "batch_size": 16, "lr": 1e-3}
FIRST_METHODS = ("linear_probe", "partial_k", "full_finetune", "lora", "kd", "ncm")
BACKBONES = ("text", "vit", "cnn")


def method_specs() -> list[dict]:
    """One run of each first method, as short as the methods allow."""
    return [
        {"method": "linear_probe", "train": {"epochs": 2}},
        {"method": "partial_k", "config": {"k": 1}, "train": FAST},
        {"method": "full_finetune", "train": FAST},
        {"method": "lora", "config": {"r": 2, "alpha": 4}, "train": FAST},
        {"method": "kd", "config": {"teacher": "run:full_finetune", "transfer_size": 8},
         "train": FAST},
        {"method": "ncm"},
    ]


@pytest.fixture(scope="session")
def task_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str, dict]]:
    """(dataset path, PTM spec, preprocessing overrides) of each tiny backbone's task."""
    root = tmp_path_factory.mktemp("export-tasks")
    csv_path = write_sentiment_csv(root / "tweets.csv")
    images = write_idx_images(root / "images")
    return {"text": (str(csv_path), f"local:{tiny_bert_dir(root / 'bert')}", {"max_length": 16}),
            "vit": (str(images), "timm:test_vit", {"image_size": 32}),
            "cnn": (str(images), "timm:test_efficientnet", {"image_size": 32})}


def run_all(backbone: str, task_data: dict) -> tuple[RunStore, dict[str, RunResult]]:
    """Run every first method on ``backbone``'s tiny task; store the runs (in the private home of
    the test that asks first, which outlives it)."""
    dataset, ptm, preprocess = task_data[backbone]
    config = parse_experiment({
        "name": f"export-{backbone}", "ptm": ptm, "seeds": [0], "baseline": False,
        "preprocess": preprocess, "methods": method_specs(),
        "data": {"dataset": dataset, "train_size": 40, "val_size": 20, "test_size": 30}}, "test")
    store = RunStore(f"export-{backbone}")
    results = run_experiment(config, Session(config, store, resolve_device("cpu")))
    return store, {r.method: r for r in results}


_RUNS: dict[str, tuple[RunStore, dict[str, RunResult]]] = {}


@pytest.fixture
def stored_runs(task_data: dict):
    """``stored_runs(backbone)`` → (store, results by method), computed once per backbone.

    Lazy rather than session-scoped: the runs must be stored under a test's private
    ``ZHIJIAN_HOME``, which a session fixture would be created before.
    """
    def get(backbone: str) -> tuple[RunStore, dict[str, RunResult]]:
        if backbone not in _RUNS:
            _RUNS[backbone] = run_all(backbone, task_data)
        return _RUNS[backbone]
    return get

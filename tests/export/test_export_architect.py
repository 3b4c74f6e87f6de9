"""Every Architect method's finalized run is stored, rebuilt from its architecture, and exported.

The stored run goes through the whole path a user's does: the run store rebuilds the module from
``architecture.json`` (truncation, inserted adapters, prompts, selected features) and the
safetensors weights, and the bundle writer exports it to ONNX and checks parity with PyTorch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.export.conftest import BACKBONES
from zhijian_core.bundle.io import verify_bundle
from zhijian_core.experiment.config import parse_experiment
from zhijian_core.experiment.runner import run_experiment
from zhijian_core.experiment.session import Session, resolve_device
from zhijian_core.export import from_run, write_model_bundle
from zhijian_core.methods.registry import get_method_class
from zhijian_core.runs.store import RunStore
from zhijian_core.train.result import RunResult

FAST = {"epochs": 1, "batch_size": 16, "lr": 1e-3}
SPECS: dict[str, dict] = {
    "bitfit": {},
    "ia3": {},
    "adapter": {"bottleneck": 8},
    "adaptformer": {"bottleneck": 8},
    "vpt": {"tokens": 2},
    "vpt@deep": {"tokens": 2, "deep": True},
    "ssf": {},
    "ln_tuning": {},
    "head2toe": {"num_features": 16, "selection_steps": 20},
    "graft": {"blocks": 2},
}
"""Runs by label (``method@variant``) and their configs."""


def _applies(label: str, backbone: str) -> bool:
    return backbone in get_method_class(label.split("@")[0]).applies_to


PAIRS = [(backbone, label) for backbone in BACKBONES for label in SPECS
         if _applies(label, backbone)]


_RUNS: dict[str, tuple[RunStore, dict[str, RunResult]]] = {}


@pytest.fixture
def architect_runs(task_data: dict):
    """``architect_runs(backbone)`` → (store, results by label), computed once per backbone."""
    def get(backbone: str) -> tuple[RunStore, dict[str, RunResult]]:
        if backbone not in _RUNS:
            dataset, ptm, preprocess = task_data[backbone]
            methods = [{"method": label.split("@")[0], "label": label, "config": config,
                        "train": FAST} for label, config in SPECS.items()
                       if _applies(label, backbone)]
            config = parse_experiment({
                "name": f"export-architect-{backbone}", "ptm": ptm, "seeds": [0],
                "baseline": False, "preprocess": preprocess, "methods": methods,
                "data": {"dataset": dataset, "train_size": 40, "val_size": 20, "test_size": 30}},
                "test")
            store = RunStore(f"export-architect-{backbone}")
            results = run_experiment(config, Session(config, store, resolve_device("cpu")))
            _RUNS[backbone] = store, {r.label or r.method: r for r in results}
        return _RUNS[backbone]
    return get


@pytest.mark.timeout(300)  # the first test of each backbone runs all its methods
@pytest.mark.parametrize(("backbone", "label"), PAIRS, ids=[f"{b}-{m}" for b, m in PAIRS])
def test_every_architect_run_rebuilds_and_exports_with_parity(backbone: str, label: str,
                                                               architect_runs,
                                                               tmp_path: Path) -> None:
    store, results = architect_runs(backbone)
    result = results[label]
    stored = store.load(result.run_id)  # rebuilt from architecture.json + safetensors, strictly
    assert stored.architecture.ptm == result.ptm
    out = tmp_path / "bundle"
    manifest = write_model_bundle(from_run(result.run_id, store),
                                  f"tiny-{backbone}-{label.replace('@', '-')}", out)
    assert verify_bundle(out) == manifest
    parity = manifest.evidence.parity
    assert parity.passed and parity.max_abs_diff < 1e-4
    assert manifest.evidence.evaluation.accuracy == pytest.approx(result.quality.accuracy,
                                                                  abs=1 / 30 + 1e-9)

"""Every Tuner method's finalized run is stored, rebuilt from its architecture, and exported.

The runs go through the real runner and session (real preprocessing, the teacher a finalized
``full_finetune`` run of the same experiment), so the two-stage methods' first stages and DELTA's
channel attention run on the session's tensors and features. The stored module is rebuilt from
``architecture.json`` and the safetensors weights, exported to ONNX, and checked for parity.
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
TEACHER = "run:full_finetune"
SPECS: dict[str, dict] = {
    "fitnet": {"teacher": TEACHER, "hint_batch_size": 16},
    "rkd": {"teacher": TEACHER},
    "l2sp": {},
    "delta": {"attention_examples": 8},
    "bss": {},
    "co_tuning": {},
    "refilled": {"teacher": TEACHER, "embedding_batch_size": 16},
}
"""Runs by method and their configs."""


def _applies(method: str, backbone: str) -> bool:
    return backbone in get_method_class(method).applies_to


PAIRS = [(backbone, method) for backbone in BACKBONES for method in SPECS
         if _applies(method, backbone)]

_RUNS: dict[str, tuple[RunStore, dict[str, RunResult]]] = {}


@pytest.fixture
def tuner_runs(task_data: dict):
    """``tuner_runs(backbone)`` → (store, results by method), computed once per backbone."""
    def get(backbone: str) -> tuple[RunStore, dict[str, RunResult]]:
        if backbone not in _RUNS:
            dataset, ptm, preprocess = task_data[backbone]
            methods = [{"method": "full_finetune", "train": FAST}] + [
                {"method": method, "config": config, "train": FAST}
                for method, config in SPECS.items() if _applies(method, backbone)]
            config = parse_experiment({
                "name": f"export-tuner-{backbone}", "ptm": ptm, "seeds": [0],
                "baseline": False, "preprocess": preprocess, "methods": methods,
                "data": {"dataset": dataset, "train_size": 40, "val_size": 20, "test_size": 30}},
                "test")
            store = RunStore(f"export-tuner-{backbone}")
            results = run_experiment(config, Session(config, store, resolve_device("cpu")))
            _RUNS[backbone] = store, {r.method: r for r in results}
        return _RUNS[backbone]
    return get


@pytest.mark.parametrize(("backbone", "method"), PAIRS, ids=[f"{b}-{m}" for b, m in PAIRS])
def test_every_tuner_run_rebuilds_and_exports_with_parity(backbone: str, method: str, tuner_runs,
                                                          tmp_path: Path) -> None:
    store, results = tuner_runs(backbone)
    result = results[method]
    assert result.family == "tuner"
    stored = store.load(result.run_id)  # rebuilt from architecture.json + safetensors, strictly
    assert stored.architecture.ptm == result.ptm
    out = tmp_path / "bundle"
    manifest = write_model_bundle(from_run(result.run_id, store), f"tiny-{backbone}-{method}",
                                  out)
    assert verify_bundle(out) == manifest
    parity = manifest.evidence.parity
    assert parity.passed and parity.max_abs_diff < 1e-4
    assert manifest.evidence.evaluation.accuracy == pytest.approx(result.quality.accuracy,
                                                                  abs=1 / 30 + 1e-9)

"""The Merger methods run through the experiment runner (ingredients as ``run:<label>``), store
their runs, and export them as verified bundles: the kNN classifier and the ensemble (module kinds
other than a backbone plus a linear head) included, rebuilt from their own architectures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.export.conftest import FAST
from zhijian_core.bundle.io import verify_bundle
from zhijian_core.experiment.config import parse_experiment
from zhijian_core.experiment.runner import run_experiment
from zhijian_core.experiment.session import Session, resolve_device
from zhijian_core.export import from_run, write_model_bundle
from zhijian_core.runs.store import RunStore

TUNED = ["run:ft_a", "run:ft_b"]
SPECS = [
    {"method": "full_finetune", "train": FAST, "label": "ft_a"},
    {"method": "full_finetune", "train": {**FAST, "lr": 3e-4}, "label": "ft_b"},
    {"method": "simpleshot"},
    {"method": "knn", "config": {"k": 5}},
    {"method": "logit_ensemble", "config": {"ingredients": TUNED}},
    {"method": "soup", "config": {"ingredients": TUNED, "recipe": "greedy"}},
    {"method": "wise_ft", "config": {"fine_tuned": "run:ft_a", "alphas": [0.0, 0.5, 1.0]}},
    {"method": "task_arithmetic", "config": {"ingredients": TUNED}},
    {"method": "ties", "config": {"ingredients": TUNED, "density": 0.5}},
    {"method": "fisher", "config": {"ingredients": TUNED, "fisher_examples": 8}},
]
MERGERS = ("simpleshot", "knn", "logit_ensemble", "soup", "wise_ft", "task_arithmetic", "ties",
           "fisher")


@pytest.mark.parametrize("backbone", ["text"])
def test_merger_runs_store_and_export(backbone: str, task_data: dict, tmp_path: Path) -> None:
    dataset, ptm, preprocess = task_data[backbone]
    config = parse_experiment({
        "name": f"merger-{backbone}", "ptm": ptm, "seeds": [0], "baseline": False,
        "preprocess": preprocess, "methods": SPECS,
        "data": {"dataset": dataset, "train_size": 40, "val_size": 20, "test_size": 30}}, "test")
    store = RunStore(f"merger-{backbone}")
    results = {r.display: r for r in run_experiment(config, Session(config, store,
                                                                    resolve_device("cpu")))}
    assert set(results) == {spec.get("label", spec["method"]) for spec in SPECS}
    for name in MERGERS:
        result = results[name]
        assert result.family == "merger" and result.cost.trainable_params == 0
        out = tmp_path / name
        manifest = write_model_bundle(from_run(result.run_id, store), f"tiny-{name}", out)
        assert verify_bundle(out) == manifest
        assert manifest.evidence.parity.passed
        assert manifest.evidence.evaluation.accuracy == pytest.approx(
            result.quality.accuracy, abs=1 / 30 + 1e-9)
        assert manifest.lineage.method.name == name

"""A few real training steps on the packaged PTMs, through the same runner as everything else."""

from __future__ import annotations

import pytest

from zhijian_core.experiment.config import parse_experiment
from zhijian_core.experiment.runner import run_experiment
from zhijian_core.experiment.session import Session, resolve_device

pytestmark = pytest.mark.realptm


def _run(ptm: str, dataset: str, methods: list[dict], preprocess: dict) -> list:
    config = parse_experiment({
        "name": "real", "ptm": ptm, "seeds": [0], "baseline": False, "preprocess": preprocess,
        "data": {"dataset": dataset, "train_size": 48, "val_size": 24, "test_size": 32},
        "methods": methods}, "test")
    return run_experiment(config, Session(config, None, resolve_device("cpu")))


def test_minilm_l6_lora_and_distillation_into_minilm_l3() -> None:
    few = {"epochs": 1, "batch_size": 16, "max_steps": 3, "lr": 5e-4}
    lora, kd = _run("minilm-l6", "airline-tweets", [
        {"method": "lora", "config": {"r": 4, "alpha": 8}, "train": few},
        {"method": "kd", "config": {"teacher": "run:lora", "student": "minilm-l3",
                                    "transfer_size": 16}, "train": few},
    ], {"max_length": 32})
    assert lora.ptm == "minilm-l6" and kd.ptm == "minilm-l3"
    assert lora.cost.trainable_params < 0.01 * lora.cost.total_params
    assert kd.cost.total_params < lora.cost.total_params
    assert 0.0 <= lora.quality.macro_f1 <= 1.0


def test_efficientnet_lite0_fine_tunes_on_fashion_mnist() -> None:
    probe, full = _run("efficientnet-lite0", "fashion-mnist", [
        {"method": "linear_probe", "train": {"epochs": 5}},
        {"method": "full_finetune", "train": {"epochs": 1, "batch_size": 16, "max_steps": 3,
                                              "lr": 3e-4}},
    ], {"image_size": 64})
    # ImageNet features separate Fashion-MNIST classes far above chance even from 48 images.
    assert probe.quality.accuracy > 0.3
    # Everything trains but the ImageNet head, which is not counted as an inference parameter.
    assert full.cost.trainable_params == full.cost.total_params == 4_664_818 - 1_281_000

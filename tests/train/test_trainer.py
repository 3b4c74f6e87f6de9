"""The one trainer: schedule, determinism, model selection on validation, early stopping, BN stats."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tests.tiny import tiny_cnn_ptm
from zhijian_core.methods.registry import create_method
from zhijian_core.model import ReuseClassifier
from zhijian_core.train.config import TrainConfig
from zhijian_core.train.tensors import TensorSet
from zhijian_core.train.trainer import _schedule, fit

CPU = torch.device("cpu")
NAMES = ("a", "b", "c")


def _features(n: int, seed: int) -> TensorSet:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    centres = torch.randn(3, 8, generator=g) * 3
    feats = centres[labels] + torch.randn(n, 8, generator=g)
    return TensorSet({"features": feats}, labels)


class _Backbone(nn.Module):
    feature_dim = 8


def _probe(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return ReuseClassifier(_Backbone(), 3)  # features are given: the backbone never runs


def test_warmup_then_cosine_schedule() -> None:
    factor = _schedule(100, TrainConfig(warmup_ratio=0.1))
    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)
    assert factor(10) == pytest.approx(1.0)
    assert factor(55) == pytest.approx(0.5 * (1 + math.cos(math.pi * 45 / 90)))
    assert factor(100) == pytest.approx(0.0, abs=1e-12)
    constant = _schedule(100, TrainConfig(warmup_ratio=0.0, schedule="constant"))
    assert constant(0) == constant(99) == 1.0


def test_same_seed_same_weights_and_best_on_validation_kept() -> None:
    method = create_method("linear_probe")
    config = TrainConfig(lr=0.05, epochs=6, batch_size=16, warmup_ratio=0.0)
    train, val = _features(96, 0), _features(48, 1)
    runs = []
    for _ in range(2):
        model = _probe()
        report = fit(method, model, train, val, NAMES, config, CPU, seed=3)
        runs.append((model.head.weight.detach().clone(), report))
    torch.testing.assert_close(runs[0][0], runs[1][0], rtol=0, atol=0)
    report = runs[0][1]
    assert report.epochs == 6 and len(report.val_history) == 6
    assert report.best_val == max(report.val_history)
    assert report.val_history[report.best_epoch - 1] == report.best_val


def test_early_stopping_after_patience() -> None:
    method = create_method("linear_probe")
    # A learning rate too small to change any prediction: validation never improves.
    config = TrainConfig(lr=1e-12, epochs=20, batch_size=32, patience=2, warmup_ratio=0.0)
    report = fit(method, _probe(), _features(64, 0), _features(32, 1), NAMES, config, CPU, seed=0)
    assert report.stopped_early and report.epochs == 3 and report.best_epoch == 1


def test_max_steps_stops_training() -> None:
    config = TrainConfig(lr=1e-3, epochs=5, batch_size=8, max_steps=3)
    report = fit(create_method("linear_probe"), _probe(), _features(64, 0), _features(16, 1),
                 NAMES, config, CPU, seed=0)
    assert report.steps == 3 and report.epochs == 1


def test_frozen_batch_norm_statistics_do_not_move() -> None:
    ptm = tiny_cnn_ptm()
    model = ReuseClassifier(ptm.backbone, 3)
    for p in model.backbone.parameters():
        p.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items() if "running_mean" in k}
    g = torch.Generator().manual_seed(0)
    data = TensorSet({"pixel_values": torch.randn(16, 3, 32, 32, generator=g)}, torch.arange(16) % 3)

    class HeadOnly:  # a method whose loss runs the full model (backbone in train mode)
        name = "head_only"

        @staticmethod
        def loss(model, batch, labels, indices):
            return nn.functional.cross_entropy(model(batch), labels)

        @staticmethod
        def keeps_norm_statistics():
            return False

    fit(HeadOnly(), model, data, data, NAMES, TrainConfig(epochs=1, batch_size=8), CPU, seed=0)
    after = {k: v for k, v in model.state_dict().items() if "running_mean" in k}
    assert before and all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("method", ["bitfit", "ln_tuning"])
@pytest.mark.parametrize("statistics", ["source", "task"])
def test_norm_tuning_keeps_the_ptm_statistics_unless_told(method: str, statistics: str) -> None:
    """BitFit and norm tuning train batch norms' shifts (and gains) over the PTM's statistics; with
    ``norm_statistics: task`` the statistics follow the task's batches."""
    ptm = tiny_cnn_ptm()
    reuse = create_method(method, {"norm_statistics": statistics})
    model = ReuseClassifier(ptm.backbone, 3)
    for name, p in model.backbone.named_parameters():
        p.requires_grad_(name.endswith("bias"))
    before = {k: v.clone() for k, v in model.state_dict().items() if "running_mean" in k}
    g = torch.Generator().manual_seed(0)
    data = TensorSet({"pixel_values": torch.randn(16, 3, 32, 32, generator=g) * 3 + 1},
                     torch.arange(16) % 3)
    fit(reuse, model, data, data, NAMES, TrainConfig(epochs=1, batch_size=8), CPU, seed=0)
    after = {k: v for k, v in model.state_dict().items() if "running_mean" in k}
    kept = all(torch.equal(before[k], after[k]) for k in before)
    assert before and kept == (statistics == "source")


def test_nothing_to_train_is_refused() -> None:
    model = _probe()
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no parameter"):
        fit(create_method("linear_probe"), model, _features(8, 0), _features(8, 1), NAMES,
            TrainConfig(), CPU, seed=0)

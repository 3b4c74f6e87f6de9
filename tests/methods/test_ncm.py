"""Nearest class mean: the closed-form head is exactly the nearest-mean rule."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.methods.conftest import make_context
from zhijian_core.data.dataset import UNLABELLED
from zhijian_core.errors import DatasetError
from zhijian_core.methods.ncm import class_means, nearest_mean_head
from zhijian_core.methods.registry import create_method


def test_class_means_ignore_unlabelled_rows_and_count() -> None:
    features = torch.tensor([[1.0, 0.0], [3.0, 2.0], [9.0, 9.0], [0.0, 4.0]])
    labels = torch.tensor([0, 0, UNLABELLED, 2])
    means, counts = class_means(features, labels, 3)
    assert means.tolist() == [[2.0, 1.0], [0.0, 0.0], [0.0, 4.0]]
    assert counts.tolist() == [2, 0, 1]


def test_head_logits_are_negative_half_squared_distances_up_to_a_row_constant() -> None:
    means = torch.tensor([[2.0, 1.0], [0.0, 4.0]])
    weight, bias = nearest_mean_head(means)
    assert bias.tolist() == [-2.5, -8.0]  # -½‖μ‖²
    f = torch.tensor([[1.0, 3.0]])
    logits = f @ weight.T + bias
    half_sq = -0.5 * torch.cdist(f, means).pow(2)  # [-½·5, -½·2]
    torch.testing.assert_close(logits - half_sq, torch.full((1, 2), 0.5 * 10.0))  # ½‖f‖²


def test_argmax_is_the_nearest_mean_on_random_data() -> None:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(200, 16, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 7, (200,), generator=generator)
    means, _ = class_means(features, labels, 7)
    weight, bias = nearest_mean_head(means)
    queries = torch.randn(500, 16, generator=generator, dtype=torch.float64)
    assert torch.equal((queries @ weight.T + bias).argmax(-1),
                       torch.cdist(queries, means).argmin(-1))


def test_a_class_without_training_examples_is_named() -> None:
    ctx = make_context("cnn")
    train = ctx.splits.train
    keep = train.labels != 1
    splits = dataclasses.replace(ctx.splits, train=train.subset(keep.nonzero()[0]))
    ctx = dataclasses.replace(ctx, splits=splits)
    method = create_method("ncm")
    model = method.build(ctx)
    with pytest.raises(DatasetError, match="every class.*none of 'class1'"):
        method.prepare(model, ctx)

"""Head2Toe: layer scales, the group-lasso ranking, the configured number of features, and one
backbone pass per split (cached features train the head as the uncached path would)."""

from __future__ import annotations

import pytest
import torch

from tests.methods.conftest import (KINDS, make_context, prepare_method, run_eval, tensorize,
                                    tiny_splits)
from zhijian_core.errors import MethodError
from zhijian_core.methods.head2toe import group_lasso_scores, layer_scales
from zhijian_core.methods.registry import create_method
from zhijian_core.train.config import TrainConfig
from zhijian_core.train.tensors import TensorSet
from zhijian_core.train.trainer import fit


def test_layer_scales_are_each_layers_mean_norm() -> None:
    features = torch.tensor([[3.0, 4.0, 1.0], [0.0, 0.0, 3.0]])
    torch.testing.assert_close(layer_scales(features, [2, 1]), torch.tensor([2.5, 2.0]))


def test_the_group_lasso_ranks_informative_features_first() -> None:
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(60) % 3
    noise = torch.randn(60, 8, generator=generator)
    signal = torch.nn.functional.one_hot(labels, 3).float() * 3.0
    features = torch.cat([noise[:, :4], signal[:, :2], noise[:, 4:]], dim=1)  # columns 4 and 5
    scores = group_lasso_scores(features, labels, 3, l21=0.05, steps=300, lr=0.05, seed=0)
    assert set(torch.topk(scores, 2).indices.tolist()) == {4, 5}
    again = group_lasso_scores(features, labels, 3, l21=0.05, steps=300, lr=0.05, seed=0)
    assert torch.equal(scores, again)


@pytest.mark.parametrize(("kind", "count"), [("text", 10), ("vit", 30), ("cnn", 7)])
def test_the_configured_number_of_features_is_selected(kind: str, count: int) -> None:
    method = create_method("head2toe", {"num_features": count, "selection_steps": 20})
    prepared = prepare_method(method, kind)
    spec = method.architecture(prepared.ctx).feature_selection
    backbone = prepared.ctx.ptm.backbone
    dims = tuple(f.shape[-1] for f in backbone.pooled_intermediates(prepared.batch))
    assert spec.layer_dims == dims and len(spec.layer_dims) == len(backbone.block_groups())
    assert len(spec.index) == count and list(spec.index) == sorted(set(spec.index))
    assert max(spec.index) < sum(dims)
    assert prepared.model.head.in_features == count


def test_the_head_reads_the_selected_scaled_features() -> None:
    prepared = prepare_method(create_method("head2toe", {"num_features": 5,
                                                         "selection_steps": 20}), "cnn")
    model, spec = prepared.model, prepared.method.architecture(prepared.ctx).feature_selection
    with torch.no_grad():  # the prepared batch is the whole training split
        parts = prepared.ctx.ptm.backbone.eval().pooled_intermediates(prepared.batch)
    scales = layer_scales(torch.cat(parts, -1), spec.layer_dims)
    torch.testing.assert_close(model.selection.scales, scales)
    with torch.no_grad():
        selected = torch.cat([p / scales[i] for i, p in enumerate(parts)], -1)[:, list(spec.index)]
        torch.testing.assert_close(run_eval(model, prepared.batch), model.head(selected))


@pytest.mark.parametrize("kind", KINDS)
def test_training_keeps_the_frozen_backbone_in_eval_mode(kind: str) -> None:
    prepared = prepare_method(create_method("head2toe", {"num_features": 4,
                                                         "selection_steps": 5}), kind)
    prepared.model.train()
    prepared.method.loss(prepared.model, prepared.batch, prepared.labels, prepared.indices)
    assert not any(m.training for m in prepared.model.backbone.modules())
    assert prepared.model.head.training


def _fit(method, model, ctx, train_set: TensorSet, val_set: TensorSet) -> None:
    config = TrainConfig(lr=1e-2, epochs=3, batch_size=4, warmup_ratio=0.0)
    fit(method, model, train_set, val_set, ctx.splits.train.label_names, config,
        torch.device("cpu"), seed=0)


def _labelled(inputs: dict[str, torch.Tensor], labels) -> TensorSet:
    return TensorSet(inputs, torch.as_tensor(labels, dtype=torch.long))


@pytest.mark.parametrize("kind", ["text", "cnn"])
def test_the_backbone_runs_once_per_split_and_training_equals_the_uncached_path(kind: str) -> None:
    config = {"num_features": 6, "selection_steps": 20}
    cached, ctx = create_method("head2toe", config), make_context(kind)
    assert cached.frozen_backbone
    calls: list[int] = []
    hook = ctx.ptm.backbone.register_forward_hook(lambda *_: calls.append(1))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        model = cached.build(ctx)
    train, val = ctx.splits.train, ctx.splits.val
    train_set = _labelled({"features": cached.frozen_features(ctx, train)}, train.labels)
    val_set = _labelled({"features": cached.frozen_features(ctx, val)}, val.labels)
    _fit(cached, model, ctx, train_set, val_set)
    hook.remove()
    assert len(calls) == 2  # one pass over the training split (ranking), one over validation

    # The uncached path: the same selection and head initialisation, the backbone run every step.
    uncached, ctx2 = create_method("head2toe", config), make_context(kind)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        reference = uncached.build(ctx2)
    _fit(uncached, reference, ctx2, _labelled(tensorize(ctx2.ptm, train), train.labels),
         _labelled(tensorize(ctx2.ptm, val), val.labels))
    torch.testing.assert_close(model.head.weight, reference.head.weight, atol=1e-5, rtol=1e-5)
    batch = tensorize(ctx.ptm, ctx.splits.test)
    torch.testing.assert_close(run_eval(model, batch), run_eval(reference, batch),
                               atol=1e-5, rtol=1e-5)


def test_frozen_features_need_the_selection_first() -> None:
    with pytest.raises(MethodError, match="build"):
        create_method("head2toe").frozen_features(make_context("cnn"), tiny_splits("cnn").train)

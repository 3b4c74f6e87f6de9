"""Head2Toe: layer scales, the group-lasso ranking, and the configured number of features."""

from __future__ import annotations

import pytest
import torch

from tests.methods.conftest import KINDS, prepare_method, run_eval
from zhijian_core.methods.head2toe import group_lasso_scores, layer_scales
from zhijian_core.methods.registry import create_method


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

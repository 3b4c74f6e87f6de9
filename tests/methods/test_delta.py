"""DELTA: the feature-map distance by hand, channel attention, and a gradient that is not zero."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tests.methods.conftest import KINDS, make_context, prepare_method
from zhijian_core.methods.delta import (attention_weights, channel_loss_rises, feature_map_distance,
                                        fit_probe)
from zhijian_core.methods.hooks import block_outputs
from zhijian_core.methods.registry import create_method


def test_feature_map_distance_by_hand() -> None:
    student = torch.tensor([[[[1.0, 1.0]], [[2.0, 0.0]]]])  # (1, 2 channels, 1, 2)
    source = torch.zeros(1, 2, 1, 2)
    # channel 0: 1 + 1 = 2; channel 1: 4 + 0 = 4; weighted 0.25 · 2 + 0.75 · 4
    value = feature_map_distance(student, source, torch.tensor([0.25, 0.75]))
    assert float(value) == pytest.approx(3.5)


def test_feature_map_distance_of_tokens_skips_padding() -> None:
    student = torch.tensor([[[1.0, 2.0], [5.0, 5.0]], [[1.0, 0.0], [0.0, 1.0]]])  # (2, 2 tokens, 2)
    source = torch.zeros(2, 2, 2)
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    # example 0 (first token only): 1 + 4 = 5; example 1: 1 + 1 = 2; uniform weights ½; mean
    value = feature_map_distance(student, source, torch.tensor([0.5, 0.5]), mask)
    assert float(value) == pytest.approx((0.5 * 5 + 0.5 * 2) / 2)


def test_attention_weights_by_hand() -> None:
    # rises 1, 2, 3: mean 2, population std √(2/3), so z = (−√1.5, 0, √1.5); at T = 1, softmax(z)
    z = math.sqrt(1.5)
    total = math.exp(-z) + 1 + math.exp(z)
    expected = [math.exp(-z) / total, 1 / total, math.exp(z) / total]
    assert attention_weights(torch.tensor([1.0, 2.0, 3.0]), 1.0).tolist() == pytest.approx(expected)
    soft = [math.exp(v / 5) for v in (-z, 0.0, z)]  # the temperature 5 divides z
    assert attention_weights(torch.tensor([1.0, 2.0, 3.0]), 5.0).tolist() == pytest.approx(
        [v / sum(soft) for v in soft])
    assert attention_weights(torch.tensor([10.0, 100.0, 1000.0]), 5.0).sum().item() == (
        pytest.approx(1.0))
    torch.testing.assert_close(attention_weights(torch.full((4,), 0.3), 5.0), torch.full((4,), 0.25))


def test_channel_loss_rises_are_the_loss_with_the_channel_zeroed_minus_the_loss() -> None:
    ctx = make_context("vit")
    backbone = ctx.ptm.backbone.eval()
    batch = prepare_method(create_method("delta", {"attention": False}), "vit").batch
    labels = torch.as_tensor(ctx.splits.train.labels)
    with torch.no_grad():
        head = fit_probe(backbone(batch), labels, 3)
    rises = channel_loss_rises(backbone, head, batch, labels, 5)
    assert rises.shape == (backbone.feature_dim,)

    def loss_without(channel: int | None) -> float:
        def hook(_m, _i, out):
            if channel is None:
                return out
            out = out.clone()
            out[..., channel] = 0
            return out
        handle = backbone.block_groups()[5].register_forward_hook(hook)
        try:
            with torch.no_grad():
                return float(F.cross_entropy(head(backbone(batch)), labels))
        finally:
            handle.remove()

    base = loss_without(None)
    assert rises[:3].tolist() == pytest.approx([loss_without(c) - base for c in range(3)],
                                               abs=1e-5)


def test_the_unweighted_variant_uses_uniform_weights() -> None:
    prepared = prepare_method(create_method("delta", {"attention": False, "blocks": [0, -1]}),
                              "cnn")
    weights = prepared.method.channel_weights
    assert sorted(weights) == [0, len(prepared.model.backbone.block_groups()) - 1]
    for w in weights.values():
        torch.testing.assert_close(w, torch.full_like(w, 1.0 / len(w)))


@pytest.mark.parametrize("kind", KINDS)
def test_penalty_is_zero_at_the_start_and_has_non_zero_gradients_once_features_moved(kind) -> None:
    method = create_method("delta", {"alpha": 1.0, "beta": 0.0, "blocks": [0, -1]})
    prepared = prepare_method(method, kind)
    model, batch = prepared.model.eval(), prepared.batch  # eval: batch norm as in the source
    with torch.no_grad(), block_outputs(model.backbone, [0, -1 % len(
            model.backbone.block_groups())]) as maps:
        model(batch)
        assert float(method.penalty(model, batch, maps)) == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():
        for p in model.backbone.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))
    model.zero_grad(set_to_none=True)
    blocks = method._blocks
    with block_outputs(model.backbone, blocks) as maps:
        model(batch)
    method.penalty(model, batch, maps).backward()
    first = {id(p) for p in model.backbone.block_groups()[0].parameters()}
    assert all(bool(p.grad.abs().sum() > 0) for p in model.backbone.parameters()
               if id(p) in first)
    moved = [n for n, p in model.backbone.named_parameters()
             if p.requires_grad and p.grad is not None and bool(p.grad.abs().sum() > 0)]
    assert len(moved) > len(first)


def test_loss_is_cross_entropy_plus_the_penalty_and_finalize_releases_the_source() -> None:
    method = create_method("delta", {"alpha": 0.5, "beta": 0.1})
    prepared = prepare_method(method, "text")
    model, batch = prepared.model.eval(), prepared.batch
    with torch.no_grad():
        loss = method.loss(model, batch, prepared.labels, prepared.indices)
        head = sum(float((p ** 2).sum()) for p in model.head.parameters())
        expected = F.cross_entropy(model(batch), prepared.labels) + 0.1 * head
    torch.testing.assert_close(loss, expected)  # at the start the feature-map term is zero
    method.finalize(model)
    assert method._source is None and method.channel_weights == {}

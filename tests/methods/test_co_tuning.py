"""Co-Tuning: relationship and soft-label loss by hand, both heads training, and finalize."""

from __future__ import annotations

import math

import pytest
import torch

from tests.methods.conftest import make_context, prepare_method, run_eval
from zhijian_core.errors import NotApplicableError
from zhijian_core.methods.co_tuning import direct_relationship, soft_cross_entropy
from zhijian_core.methods.registry import create_method

LN3 = math.log(3.0)


def test_direct_relationship_averages_source_predictions_per_target_class() -> None:
    logits = torch.tensor([[LN3, 0.0], [0.0, 0.0], [0.0, LN3]])
    labels = torch.tensor([0, 0, 1])
    # class 0: mean of [3/4, 1/4] and [1/2, 1/2]; class 1: [1/4, 3/4]
    expected = torch.tensor([[0.625, 0.375], [0.25, 0.75]])
    torch.testing.assert_close(direct_relationship(logits, labels, 2), expected)
    with pytest.raises(ValueError, match=r"target classes \[2\] have no training example"):
        direct_relationship(logits, labels, 3)


def test_soft_cross_entropy_by_hand() -> None:
    # −(¼ ln ½ + ¾ ln ½) = ln 2 for uniform logits; −(¾ ln ¾ + ¼ ln ¼) when they match the target
    assert float(soft_cross_entropy(torch.zeros(1, 2), torch.tensor([[0.25, 0.75]]))) == (
        pytest.approx(math.log(2)))
    matched = soft_cross_entropy(torch.tensor([[LN3, 0.0]]), torch.tensor([[0.75, 0.25]]))
    assert float(matched) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))


def test_a_backbone_without_a_source_classifier_is_refused_by_name() -> None:
    ctx = make_context("text")
    with pytest.raises(NotApplicableError, match="'co_tuning'.*tiny-text.*own source classifier"):
        create_method("co_tuning").build(ctx)


@pytest.mark.parametrize("kind", ["vit", "cnn"])
def test_source_label_term_has_non_zero_gradients_on_backbone_and_source_head(kind: str) -> None:
    prepared = prepare_method(create_method("co_tuning"), kind)
    model, method = prepared.model.train(), prepared.method
    source_head = model.backbone.source_classifier()
    assert all(p.requires_grad for p in source_head.parameters())
    translated = method._relationship[prepared.labels]
    soft_cross_entropy(source_head(model.forward_features(prepared.batch)), translated).backward()
    trainable = [(n, p) for n, p in model.backbone.named_parameters() if p.requires_grad]
    assert [n for n, p in trainable if p.grad is None or not bool(p.grad.abs().sum() > 0)] == []
    assert all(p.grad is None for p in model.head.parameters())


def test_relationship_comes_from_the_ptms_own_predictions() -> None:
    prepared = prepare_method(create_method("co_tuning", {"trade_off": 0.5}), "vit")
    ctx, method, model = prepared.ctx, prepared.method, prepared.model.eval()
    backbone = ctx.ptm.backbone.eval()
    with torch.no_grad():
        source = backbone.source_classifier()(backbone(prepared.batch))
    expected = direct_relationship(source, prepared.labels, ctx.num_classes)
    torch.testing.assert_close(method._relationship, expected)
    assert method._relationship.shape == (3, backbone.source_classifier().out_features)
    with torch.no_grad():
        loss = method.loss(model, prepared.batch, prepared.labels, prepared.indices)
        features = model.forward_features(prepared.batch)
        by_hand = (torch.nn.functional.cross_entropy(model.head(features), prepared.labels)
                   + 0.5 * soft_cross_entropy(model.backbone.source_classifier()(features),
                                              expected[prepared.labels]))
    torch.testing.assert_close(loss, by_hand)


def test_finalize_restores_the_pretrained_source_head_and_keeps_the_outputs() -> None:
    prepared = prepare_method(create_method("co_tuning"), "cnn")
    model, method = prepared.model, prepared.method
    start = {k: v.clone() for k, v in model.backbone.source_classifier().state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    method.loss(model, prepared.batch, prepared.labels, prepared.indices).backward()
    optimizer.step()
    moved = model.backbone.source_classifier().state_dict()
    assert not torch.equal(moved["weight"], start["weight"])
    expected = run_eval(model, prepared.batch)
    final = method.finalize(model)
    for key, value in final.backbone.source_classifier().state_dict().items():
        assert torch.equal(value, start[key])
    torch.testing.assert_close(run_eval(final, prepared.batch), expected)
    assert method._relationship is None

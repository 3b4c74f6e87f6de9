"""L2-SP: the penalty by hand, a starting point that is a copy, and a gradient that is not zero."""

from __future__ import annotations

import pytest
import torch

from tests.methods.conftest import prepare_method
from zhijian_core.methods.l2sp import l2sp_penalty
from zhijian_core.methods.registry import create_method


def test_penalty_equals_its_hand_computed_value() -> None:
    shared = [torch.tensor([1.0, 2.0]), torch.tensor([[0.5]])]
    start = [torch.tensor([0.0, 1.0]), torch.tensor([[0.5]])]
    new = [torch.tensor([3.0]), torch.tensor([-1.0, 1.0])]
    # α/2 · (1² + 1² + 0²) + β/2 · (3² + 1² + 1²) = 0.05 · 2 + 0.005 · 11
    value = l2sp_penalty(shared, start, new, alpha=0.1, beta=0.01)
    assert float(value) == pytest.approx(0.1 + 0.055, abs=1e-7)


def test_penalty_gradient_is_alpha_times_the_drift_and_beta_times_the_head() -> None:
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    v = torch.tensor([3.0], requires_grad=True)
    l2sp_penalty([w], [torch.tensor([0.0, 1.0])], [v], alpha=0.1, beta=0.01).backward()
    assert w.grad.tolist() == pytest.approx([0.1, 0.1])
    assert v.grad.tolist() == pytest.approx([0.03])


@pytest.mark.parametrize("kind", ["text", "cnn"])
def test_penalty_has_a_non_zero_gradient_on_every_backbone_parameter_once_they_moved(kind) -> None:
    prepared = prepare_method(create_method("l2sp", {"alpha": 1.0}), kind)
    model, method = prepared.model, prepared.method
    assert float(method.penalty(model).detach()) == pytest.approx(
        0.5 * 0.01 * sum(float((p.detach() ** 2).sum()) for p in model.head.parameters()), rel=1e-5)
    with torch.no_grad():  # a step of training would move them; move them by hand
        for p in model.backbone.parameters():
            if p.requires_grad:
                p.add_(0.01)
    model.zero_grad(set_to_none=True)
    method.penalty(model).backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert [n for n, p in trainable if p.grad is None or not bool(p.grad.abs().sum() > 0)] == []
    for name, p in model.backbone.named_parameters():
        if p.requires_grad:  # gradient α (w − w⁰) = 0.01 everywhere
            torch.testing.assert_close(p.grad, torch.full_like(p, 0.01), msg=name)


def test_the_starting_point_is_a_copy_released_at_finalize() -> None:
    prepared = prepare_method(create_method("l2sp"), "vit")
    method, model = prepared.method, prepared.model
    before = float(method.penalty(model).detach())
    with torch.no_grad():
        next(p for p in model.backbone.parameters() if p.requires_grad).add_(1.0)
    assert float(method.penalty(model).detach()) > before  # the snapshot did not move along
    method.finalize(model)
    with pytest.raises(Exception, match="prepare\\(\\) must run"):
        method.penalty(model)


def test_defaults_turn_weight_decay_off() -> None:
    assert create_method("l2sp").default_train == {"lr": 5e-5, "weight_decay": 0.0}

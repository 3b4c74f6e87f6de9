"""Batch spectral shrinkage: the penalty by hand and its gradient into the backbone."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.methods.conftest import KINDS, prepare_method
from zhijian_core.methods.bss import spectral_shrinkage
from zhijian_core.methods.registry import create_method

# singular values of this matrix: 3, 1 (its columns are orthogonal, of norms 3 and 1)
FEATURES = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])


def test_penalty_sums_the_squared_smallest_singular_values() -> None:
    assert float(spectral_shrinkage(FEATURES, 1)) == pytest.approx(1.0, abs=1e-6)
    assert float(spectral_shrinkage(FEATURES, 2)) == pytest.approx(10.0, abs=1e-5)
    assert float(spectral_shrinkage(FEATURES, 5)) == pytest.approx(10.0, abs=1e-5)  # capped


def test_penalty_gradient_is_two_sigma_u_v() -> None:
    features = FEATURES.clone().requires_grad_(True)
    spectral_shrinkage(features, 1).backward()  # d σ²/dF = 2 σ u vᵀ with σ = 1, u = e₂, v = e₂
    expected = torch.tensor([[0.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    torch.testing.assert_close(features.grad, expected, atol=1e-5, rtol=0)


def test_penalty_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        spectral_shrinkage(FEATURES, 0)
    with pytest.raises(ValueError, match=r"expected a \(B, D\)"):
        spectral_shrinkage(torch.zeros(2, 3, 4), 1)


@pytest.mark.parametrize("kind", KINDS)
def test_penalty_has_a_non_zero_gradient_on_every_backbone_parameter(kind: str) -> None:
    prepared = prepare_method(create_method("bss", {"k": 2}), kind)
    model = prepared.model
    model.train()
    spectral_shrinkage(model.forward_features(prepared.batch), 2).backward()
    backbone = [(n, p) for n, p in model.backbone.named_parameters() if p.requires_grad]
    assert [n for n, p in backbone if p.grad is None or not bool(p.grad.abs().sum() > 0)] == []


def test_loss_is_cross_entropy_plus_eta_times_the_penalty() -> None:
    prepared = prepare_method(create_method("bss", {"k": 2, "eta": 0.5}), "vit")
    model = prepared.model.eval()
    with torch.no_grad():
        loss = prepared.method.loss(model, prepared.batch, prepared.labels, prepared.indices)
        features = model.forward_features(prepared.batch)
        expected = (F.cross_entropy(model.head(features), prepared.labels)
                    + 0.5 * spectral_shrinkage(features, 2))
    torch.testing.assert_close(loss, expected)

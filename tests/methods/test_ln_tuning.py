"""LayerNorm / BatchNorm tuning: the normalisation layers' gains and shifts train, nothing else."""

from __future__ import annotations

import pytest
from torch import nn

from tests.methods.conftest import KINDS, prepare_method
from zhijian_core.methods.ln_tuning import norm_layers
from zhijian_core.methods.registry import create_method


@pytest.mark.parametrize(("kind", "norm_type"), [("text", nn.LayerNorm), ("vit", nn.LayerNorm),
                                                 ("cnn", nn.BatchNorm2d)])
def test_exactly_the_norm_layers_train(kind: str, norm_type: type[nn.Module]) -> None:
    prepared = prepare_method(create_method("ln_tuning"), kind)
    model = prepared.model
    norms = norm_layers(model.backbone)
    assert norms and all(isinstance(m, norm_type) for m in norms)
    expected = {id(p) for m in norms for p in m.parameters()} | {
        id(p) for p in model.head.parameters()}
    assert {id(p) for p in model.parameters() if p.requires_grad} == expected


@pytest.mark.parametrize("kind", KINDS)
def test_the_structure_is_the_ptms(kind: str) -> None:
    prepared = prepare_method(create_method("ln_tuning"), kind)
    final = prepared.method.finalize(prepared.model)
    ptm_keys = {f"backbone.{k}" for k in prepared.ctx.ptm.backbone.state_dict()}
    assert set(final.state_dict()) == ptm_keys | {"head.weight", "head.bias"}
    assert prepared.method.architecture(prepared.ctx).insertions == ()

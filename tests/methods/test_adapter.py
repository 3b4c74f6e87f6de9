"""Houlsby adapters: near-identity start, two per layer after the right projections."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.methods.conftest import prepare_method, run_eval
from zhijian_core.layers.bottleneck import SerialAdapter
from zhijian_core.layers.specs import SerialAdapterSpec
from zhijian_core.methods.registry import create_method


def test_the_adapter_is_a_residual_bottleneck_after_its_layer() -> None:
    torch.manual_seed(0)
    base = nn.Linear(6, 4)
    layer = SerialAdapter(base, 4, 2)
    x = torch.randn(3, 6)
    with torch.no_grad():
        for p in layer.adapter.parameters():
            p.normal_()
        y = base(x)
        a = layer.adapter
        expected = y + a.up(torch.nn.functional.gelu(a.down(y)))
        torch.testing.assert_close(layer(x), expected)


@pytest.mark.parametrize("kind", ["text", "vit"])
def test_near_zero_initialisation_starts_as_the_ptm(kind: str) -> None:
    prepared = prepare_method(create_method("adapter", {"bottleneck": 8}), kind)
    adapted = run_eval(prepared.model.backbone, prepared.batch)
    plain = run_eval(prepared.ctx.ptm.backbone, prepared.batch)
    assert not torch.equal(adapted, plain)  # the adapters are there, and not exactly zero
    torch.testing.assert_close(adapted, plain, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize(("kind", "parts"), [("text", ("attention.output.dense", "output.dense")),
                                             ("vit", ("attn.proj", "mlp.fc2"))])
def test_two_adapters_per_layer_after_attention_and_mlp(kind: str, parts: tuple[str, str]) -> None:
    prepared = prepare_method(create_method("adapter", {"bottleneck": 8}), kind)
    blocks = prepared.ctx.ptm.backbone.block_names()
    adapters = sorted(n for n, m in prepared.model.backbone.model.named_modules()
                      if isinstance(m, SerialAdapter))
    assert adapters == sorted(f"{b}.{p}" for b in blocks for p in parts)
    assert all(m.adapter.down.out_features == 8 for m in prepared.model.modules()
               if isinstance(m, SerialAdapter))
    (spec,) = prepared.method.architecture(prepared.ctx).insertions
    assert isinstance(spec, SerialAdapterSpec) and sorted(spec.targets) == adapters
    assert spec.hidden == 8

"""LoRA: the ``alpha / r`` scaling, merging into plain layers, and its default placement."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.methods.conftest import KINDS, prepare_method
from zhijian_core.methods.lora import inject_lora, merge_lora
from zhijian_core.methods.registry import create_method


def _randomise_factors(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Give the (only) adapter random A and B; return them as matrices (out x r, r x in)."""
    torch.manual_seed(0)
    params = dict(model.named_parameters())
    a = next(p for n, p in params.items() if "lora_A" in n)
    b = next(p for n, p in params.items() if "lora_B" in n)
    with torch.no_grad():
        a.normal_()
        b.normal_()
    return b.detach().flatten(1).clone(), a.detach().flatten(1).clone()


@pytest.mark.parametrize("layer", [nn.Linear(6, 5), nn.Conv2d(6, 5, kernel_size=1)],
                         ids=["linear", "conv1x1"])
def test_the_update_is_alpha_over_r_times_b_a(layer: nn.Module) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(layer)
    base = layer.weight.detach().clone()
    x = torch.randn(3, 6) if isinstance(layer, nn.Linear) else torch.randn(3, 6, 2, 2)
    with torch.no_grad():
        plain = model(x)

    assert inject_lora(model, r=4, alpha=8.0, dropout=0.0, target_modules=["0"]) == ["0"]
    b, a = _randomise_factors(model)
    delta = (8.0 / 4) * b @ a  # (out, in): the paper's ΔW = (alpha / r) · B A
    with torch.no_grad():
        adapted = model(x)
    if isinstance(layer, nn.Linear):
        expected = plain + x @ delta.T
    else:
        expected = plain + torch.einsum("oi,bihw->bohw", delta, x)
    torch.testing.assert_close(adapted, expected, atol=1e-5, rtol=1e-5)

    assert merge_lora(model) == 1
    assert type(model[0]) is type(layer)
    assert list(model.state_dict()) == ["0.weight", "0.bias"]
    torch.testing.assert_close(model[0].weight.flatten(1) - base.flatten(1), delta,
                               atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(model(x), adapted, atol=1e-5, rtol=1e-5)


def test_only_adapters_train_inside_the_adapted_module() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    inject_lora(model, r=2, alpha=2.0, dropout=0.0, target_modules=["0"])
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert trainable == ["0.lora_A.default.weight", "0.lora_B.default.weight"]


@pytest.mark.parametrize("kind", KINDS)
def test_default_targets_and_a_real_merge(kind: str) -> None:
    prepared = prepare_method(create_method("lora"), kind)
    source = prepared.ctx.ptm.backbone  # build adapted a copy: the context's PTM is untouched
    assert not any("lora_" in n for n, _ in source.named_parameters())
    targets = source.lora_target_modules()
    expected = {n for n, _ in source.model.named_modules()
                if any(n == t or n.endswith(f".{t}") for t in targets)}
    adapted = {n.removeprefix("backbone.model.").split(".lora_B")[0]
               for n, _ in prepared.model.named_parameters() if "lora_B" in n}
    assert adapted == expected and adapted
    before = {n: p.detach().clone() for n, p in prepared.model.state_dict().items()
              if n.endswith("base_layer.weight")}
    optimizer = torch.optim.AdamW([p for p in prepared.model.parameters() if p.requires_grad],
                                  lr=1e-2)
    prepared.method.loss(prepared.model, prepared.batch, prepared.labels,
                         prepared.indices).backward()
    optimizer.step()
    final = prepared.method.finalize(prepared.model)
    merged = final.state_dict()
    changed = [n for n, w in before.items()
               if not torch.equal(merged[n.replace(".base_layer", "")], w)]
    assert sorted(changed) == sorted(before)  # every adapted weight absorbed its update

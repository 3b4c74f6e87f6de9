"""SSF: where the scale-shifts go, and that merging them equals the unmerged module."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.methods.conftest import KINDS, prepare_method, run_eval
from zhijian_core.layers.scale_shift import ScaleShift, can_merge, merge_scale_shift
from zhijian_core.methods.registry import create_method
from zhijian_core.methods.ssf import ssf_targets


def _bn() -> nn.BatchNorm2d:
    layer = nn.BatchNorm2d(4)
    with torch.no_grad():
        layer.running_mean.normal_()
        layer.running_var.uniform_(0.5, 2.0)
        layer.weight.normal_()
        layer.bias.normal_()
    return layer.eval()


LAYERS = {
    "linear": (lambda: nn.Linear(6, 4), (5, 6), -1),
    "conv": (lambda: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 5, 5), 1),
    "layer_norm": (lambda: nn.LayerNorm(4), (5, 3, 4), -1),
    "batch_norm": (_bn, (2, 4, 3, 3), 1),
}


@pytest.mark.parametrize("name", LAYERS)
def test_merging_equals_the_unmerged_module(name: str) -> None:
    torch.manual_seed(0)
    make, shape, channel_dim = LAYERS[name]
    wrapped = ScaleShift(make(), 4, channel_dim, init_std=0.5)
    x = torch.randn(*shape)
    with torch.no_grad():
        expected = wrapped(x)
        merged = merge_scale_shift(wrapped)
        torch.testing.assert_close(merged(x), expected, atol=1e-5, rtol=1e-5)
    assert type(merged) is type(make())


def test_layers_without_a_bias_or_with_a_fused_activation_are_not_merged() -> None:
    from timm.layers import BatchNormAct2d

    assert not can_merge(nn.Linear(3, 3, bias=False))
    assert not can_merge(nn.LayerNorm(3, elementwise_affine=False))
    assert not can_merge(BatchNormAct2d(3))
    with pytest.raises(ValueError, match="cannot be merged"):
        merge_scale_shift(ScaleShift(nn.Linear(3, 3, bias=False), 3, -1))


@pytest.mark.parametrize("kind", KINDS)
def test_targets_follow_linear_and_norm_layers_but_never_the_source_head(kind: str) -> None:
    backbone = prepare_method(create_method("ssf"), kind).ctx.ptm.backbone
    modules = dict(backbone.model.named_modules())
    targets = ssf_targets(backbone)
    kinds = {type(modules[t]).__name__ for t in targets}
    if kind == "cnn":  # a scale-shift before a batch norm would be normalised away
        assert not any(isinstance(modules[t], nn.Conv2d) for t in targets)
        assert "BatchNormAct2d" in kinds
    else:
        assert {"Linear", "LayerNorm"} <= kinds
    source = backbone.source_classifier()
    assert source is None or all(modules[t] is not source for t in targets)


@pytest.mark.parametrize("kind", ["text", "vit"])
def test_a_transformer_finalizes_to_the_ptms_own_structure(kind: str) -> None:
    prepared = prepare_method(create_method("ssf"), kind)
    wrapped = [m for m in prepared.model.modules() if isinstance(m, ScaleShift)]
    assert len(wrapped) == len(ssf_targets(prepared.ctx.ptm.backbone))
    expected = run_eval(prepared.model, prepared.batch)
    final = prepared.method.finalize(prepared.model)
    assert not any(isinstance(m, ScaleShift) for m in final.modules())
    ptm_keys = {f"backbone.{k}" for k in prepared.ctx.ptm.backbone.state_dict()}
    assert set(final.state_dict()) == ptm_keys | {"head.weight", "head.bias"}
    assert prepared.method.architecture(prepared.ctx).insertions == ()
    torch.testing.assert_close(run_eval(final, prepared.batch), expected, atol=1e-5, rtol=1e-5)


def test_unmergeable_scale_shifts_stay_and_are_described() -> None:
    prepared = prepare_method(create_method("ssf"), "cnn")  # timm's norms fuse an activation
    final = prepared.method.finalize(prepared.model)
    kept = sorted(n.removeprefix("backbone.model.") for n, m in final.named_modules()
                  if isinstance(m, ScaleShift))
    (spec,) = prepared.method.architecture(prepared.ctx).insertions
    assert kept and sorted(spec.targets) == kept

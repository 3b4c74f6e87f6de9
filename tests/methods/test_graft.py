"""Grafting: exactly k blocks kept, their features equal the PTM's first k blocks', cheaper."""

from __future__ import annotations

import pytest
import torch

from tests.methods.conftest import KINDS, load_tiny_ptm, prepare_method, run_eval
from zhijian_core.methods.registry import create_method
from zhijian_core.model import ArchitectureConfig, build_classifier


def _first_blocks_features(kind: str, batch: dict, blocks: int) -> torch.Tensor:
    """What the PTM computes up to its ``blocks``-th block, pooled, computed from the PTM itself."""
    backbone = load_tiny_ptm(f"tiny-{kind}").backbone.eval()
    with torch.no_grad():
        if kind == "text":
            hidden = backbone.model(**batch, output_hidden_states=True).hidden_states[blocks]
            mask = batch["attention_mask"].unsqueeze(-1).float()
            return (hidden * mask).sum(1) / mask.sum(1)
        if kind == "vit":
            model = backbone.model
            x = model.norm_pre(model.patch_drop(model._pos_embed(model.patch_embed(
                batch["pixel_values"]))))
            for block in list(model.blocks)[:blocks]:
                x = block(x)
            return model.forward_head(model.norm(x), pre_logits=True)
        return backbone.pooled_intermediates(batch)[blocks - 1]


@pytest.mark.parametrize(("kind", "blocks"), [("text", 1), ("vit", 3), ("cnn", 2)])
def test_a_graft_of_k_blocks_has_k_blocks_and_the_ptms_features(kind: str, blocks: int) -> None:
    prepared = prepare_method(create_method("graft", {"blocks": blocks}), kind)
    graft = prepared.model.backbone
    assert len(graft.block_groups()) == blocks
    full = prepared.ctx.ptm.backbone
    for kept, original in zip(graft.block_groups(), full.block_groups()):
        assert kept.state_dict().keys() == original.state_dict().keys()
        assert all(torch.equal(a, b) for a, b in zip(kept.state_dict().values(),
                                                     original.state_dict().values()))
    features = run_eval(graft, prepared.batch)
    torch.testing.assert_close(features, _first_blocks_features(kind, prepared.batch, blocks),
                               atol=1e-5, rtol=1e-5)
    assert prepared.model.head.in_features == features.shape[-1] == graft.feature_dim
    assert graft.source_classifier() is None
    assert sum(p.numel() for p in graft.parameters()) < sum(p.numel() for p in full.parameters())


@pytest.mark.parametrize("kind", KINDS)
def test_the_architecture_rebuilds_the_graft_from_a_skeleton(kind: str) -> None:
    prepared = prepare_method(create_method("graft", {"blocks": 1}), kind)
    arch = prepared.method.architecture(prepared.ctx)
    assert arch.kept_blocks == 1
    rebuilt = build_classifier(arch, load_tiny_ptm(arch.ptm, seed=7).backbone)
    assert list(rebuilt.state_dict()) == list(prepared.model.state_dict())
    rebuilt.load_state_dict(prepared.model.state_dict())
    torch.testing.assert_close(run_eval(rebuilt, prepared.batch),
                               run_eval(prepared.model, prepared.batch))


def test_the_ptm_is_left_whole() -> None:
    prepared = prepare_method(create_method("graft", {"blocks": 1}), "vit")
    assert len(prepared.ctx.ptm.backbone.block_groups()) == 6
    assert prepared.ctx.ptm.backbone.source_classifier() is not None
    ArchitectureConfig.model_validate({"ptm": "tiny-vit", "num_classes": 2, "kept_blocks": 1})

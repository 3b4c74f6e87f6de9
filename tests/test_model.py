"""The architecture config: older configs still read, new fields are strict and typed, and
:func:`build_classifier` rebuilds what it describes."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from tests.methods.conftest import load_tiny_ptm
from zhijian_core.layers.bottleneck import ParallelAdapter, SerialAdapter
from zhijian_core.layers.scale_shift import ScaleShift
from zhijian_core.layers.specs import (ParallelAdapterSpec, PromptSpec, ScaleShiftSpec,
                                       SerialAdapterSpec)
from zhijian_core.model import ArchitectureConfig, ReuseClassifier, build_classifier

OLD = '{"ptm": "tiny-text", "num_classes": 3, "feature_norm": "l2"}'


def test_a_config_written_before_the_structural_fields_reads_and_rebuilds_as_before() -> None:
    arch = ArchitectureConfig.model_validate_json(OLD)
    assert (arch.kept_blocks, arch.insertions, arch.feature_selection) == (None, (), None)
    backbone = load_tiny_ptm("tiny-text").backbone
    keys = list(ReuseClassifier(load_tiny_ptm("tiny-text").backbone, 3, "l2").state_dict())
    assert list(build_classifier(arch, backbone).state_dict()) == keys


@pytest.mark.parametrize("bad", [
    {"kept_blocks": 0},
    {"insertions": [{"kind": "lora", "targets": ["x"]}]},
    {"insertions": [{"kind": "serial_adapter", "targets": [], "hidden": 4}]},
    {"insertions": [{"kind": "prompts", "tokens": 2, "deep": False, "extra": 1}]},
    {"feature_selection": {"layer_dims": [4], "index": [-1]}},
    {"unknown": 1},
])
def test_structural_fields_are_strict(bad: dict) -> None:
    with pytest.raises(ValidationError):
        ArchitectureConfig.model_validate({"ptm": "tiny-vit", "num_classes": 2, **bad})


def test_insertions_round_trip_through_json_and_are_applied_in_order() -> None:
    arch = ArchitectureConfig(
        ptm="tiny-vit", num_classes=2, kept_blocks=2,
        insertions=(SerialAdapterSpec(targets=("blocks.0.attn.proj",), hidden=4),
                    ParallelAdapterSpec(targets=("blocks.1.mlp",), hidden=4, scale=0.1,
                                        residual_input=False),
                    ScaleShiftSpec(targets=("blocks.1.attn.proj",)),
                    PromptSpec(tokens=2, deep=True)))
    assert ArchitectureConfig.model_validate_json(arch.model_dump_json()) == arch
    model = build_classifier(arch, load_tiny_ptm("tiny-vit").backbone)
    inner = model.backbone.model
    assert len(inner.blocks) == 2
    assert isinstance(inner.blocks[0].attn.proj, SerialAdapter)
    assert isinstance(inner.blocks[1].mlp, ParallelAdapter)
    assert isinstance(inner.blocks[1].attn.proj, ScaleShift)
    assert model.backbone.prompts.tokens.shape == (2, 2, 64)
    out = model({"pixel_values": torch.randn(2, 3, 32, 32)})
    assert out.shape == (2, 2)


def test_a_missing_target_is_named() -> None:
    arch = ArchitectureConfig(ptm="tiny-text", num_classes=2,
                              insertions=(ScaleShiftSpec(targets=("no.such.layer",)),))
    with pytest.raises(ValueError, match="no module 'no.such.layer'"):
        build_classifier(arch, load_tiny_ptm("tiny-text").backbone)

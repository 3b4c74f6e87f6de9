"""The packaged EfficientNet-Lite0 (real ImageNet weights) behind its adapter."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zhijian_core.ptm.digest import RANDOM_INIT, file_sha256
from zhijian_core.ptm.load import load_ptm
from zhijian_core.ptm.sources import efficientnet_lite
from zhijian_core.ptm.sources.efficientnet_lite import EfficientNetLiteBackbone

pytestmark = pytest.mark.realptm


def test_lite0_features_and_head_match_the_library_forward() -> None:
    from efficientnet_lite_pytorch import EfficientNet

    ptm = load_ptm("efficientnet-lite0")
    backbone = ptm.backbone
    assert isinstance(backbone, EfficientNetLiteBackbone) and backbone.kind == "cnn"
    assert (backbone.feature_dim, len(backbone.block_groups())) == (1280, 16)
    assert ptm.digest == file_sha256(efficientnet_lite.lite0_weights_file())
    assert (ptm.licence, ptm.pretrained, ptm.assets_dir) == ("Apache-2.0", True, None)
    assert (ptm.preprocess.resize, ptm.preprocess.crop, ptm.preprocess.resize_filter) == (
        224, 224, "bilinear")
    head = backbone.source_classifier()
    assert isinstance(head, nn.Linear) and (head.in_features, head.out_features) == (1280, 1000)
    library = EfficientNet.from_pretrained("efficientnet-lite0",
                                           weights_path=str(efficientnet_lite.lite0_weights_file()))
    library.eval()
    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        features = backbone({"pixel_values": images})
        ours, theirs = head(features), library(images)
        small = backbone({"pixel_values": images[:, :, :64, :64]})
    assert features.shape == (2, 1280) and small.shape == (2, 1280)
    assert float((ours - theirs).abs().max()) < 1e-5
    assert torch.equal(ours.argmax(-1), theirs.argmax(-1))


def test_lite0_lora_targets_are_pointwise_convolutions() -> None:
    backbone = load_ptm("efficientnet-lite0", pretrained=False).backbone
    modules = dict(backbone.model.named_modules())
    targets = backbone.lora_target_modules()
    assert "_conv_head" in targets and "_blocks.0._project_conv" in targets
    assert all(modules[t].kernel_size == (1, 1) and modules[t].groups == 1 for t in targets)
    assert not any("depthwise" in t for t in targets)


def test_lite0_skeleton_reads_no_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise AssertionError("the skeleton must not read the weights file")

    monkeypatch.setattr(efficientnet_lite, "lite0_weights_file", refuse)
    skeleton = load_ptm("efficientnet-lite0", pretrained=False)
    assert skeleton.digest == RANDOM_INIT and not skeleton.backbone.training
    assert skeleton.backbone.feature_dim == 1280


@pytest.mark.realptm
def test_lora_adapts_the_pointwise_convolutions() -> None:
    """The library's 1x1 convs are plain ``nn.Conv2d``: peft can build LoRA factors of their type."""
    import copy

    import torch

    from zhijian_core.methods.lora.adapters import inject_lora, merge_lora

    backbone = copy.deepcopy(load_ptm("efficientnet-lite0").backbone)
    x = {"pixel_values": torch.randn(2, 3, 64, 64)}
    with torch.no_grad():
        before = backbone(x)
    targets = backbone.lora_target_modules()
    assert len(inject_lora(backbone.model, 4, 8, 0.0, targets)) == len(targets) > 0
    merge_lora(backbone.model)
    with torch.no_grad():
        torch.testing.assert_close(backbone(x), before)  # B starts at zero: nothing changed yet

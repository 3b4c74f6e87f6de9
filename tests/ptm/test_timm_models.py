"""``timm:`` specs on timm's tiny test models, with and without a local weights file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tests.tiny import random_batch, tiny_cnn_ptm, tiny_vit_ptm
from zhijian_core.errors import PTMError
from zhijian_core.ptm.backbone import TimmCNNBackbone, TimmViTBackbone
from zhijian_core.ptm.digest import RANDOM_INIT, file_sha256
from zhijian_core.ptm.load import load_ptm


@pytest.mark.parametrize(("name", "adapter", "dim"), [
    ("test_vit", TimmViTBackbone, 64),
    ("test_efficientnet", TimmCNNBackbone, 256),
    ("test_resnet", TimmCNNBackbone, 96),
])
def test_tiny_timm_models_load_behind_the_right_adapter(name: str, adapter: type,
                                                         dim: int) -> None:
    ptm = load_ptm(f"timm:{name}")
    backbone = ptm.backbone
    assert type(backbone) is adapter and backbone.feature_dim == dim
    assert not backbone.training and ptm.pretrained is False and ptm.digest == RANDOM_INIT
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in backbone.parameters())
    groups = backbone.block_groups()
    assert groups and all(any(True for _ in g.parameters()) for g in groups)
    assert backbone.source_classifier() is not None and backbone.lora_target_modules()
    with torch.no_grad():
        features = backbone(random_batch(ptm, batch_size=3))
    assert features.shape == (3, dim) and torch.isfinite(features).all()
    assert ptm.assets_dir is None and ptm.identity == f"timm/{name}" and ptm.spec == f"timm:{name}"


def test_preprocess_comes_from_the_pretrained_cfg() -> None:
    vit = load_ptm("timm:test_vit").preprocess  # 160 px, crop_pct 0.95, bicubic, mean 0.5
    assert (vit.resize, vit.crop, vit.resize_filter) == (168, 160, "bicubic")
    assert vit.mean == (0.5, 0.5, 0.5) and vit.std == (0.5, 0.5, 0.5) and vit.mode == "RGB"
    assert load_ptm("timm:test_resnet").preprocess.resize_filter == "bilinear"


def test_tiny_helpers_are_deterministic() -> None:
    first, second = tiny_vit_ptm(), tiny_vit_ptm()
    for (name, a), (_, b) in zip(first.backbone.state_dict().items(),
                                 second.backbone.state_dict().items()):
        assert torch.equal(a, b), name
    assert tiny_cnn_ptm().backbone.kind == "cnn"


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_local_weights_file_is_loaded_and_hashed(tmp_path: Path, suffix: str) -> None:
    source = tiny_cnn_ptm(seed=3).backbone.model.state_dict()
    weights = tmp_path / f"weights{suffix}"
    if suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in source.items()}, str(weights))
    else:
        torch.save(source, weights)
    ptm = load_ptm(f"timm:test_efficientnet@{weights}")
    assert ptm.pretrained and ptm.digest == file_sha256(weights)
    assert ptm.licence is None and ptm.identity == f"timm/test_efficientnet ({weights.name})"
    for name, tensor in ptm.backbone.model.state_dict().items():
        assert torch.equal(tensor, source[name]), name


def test_skeleton_reads_no_weights_file(tmp_path: Path) -> None:
    spec = f"timm:test_vit@{tmp_path}/missing.safetensors"
    skeleton = load_ptm(spec, pretrained=False)
    assert skeleton.digest == RANDOM_INIT and skeleton.pretrained is False
    assert skeleton.spec == spec
    with pytest.raises(PTMError, match="missing.safetensors does not exist"):
        load_ptm(spec)


def test_weights_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    weights = tmp_path / "resnet.pth"
    torch.save(load_ptm("timm:test_resnet").backbone.model.state_dict(), weights)
    with pytest.raises(PTMError, match="does not fit timm model 'test_vit'"):
        load_ptm(f"timm:test_vit@{weights}")


def test_unreadable_weights_are_refused(tmp_path: Path) -> None:
    weights = tmp_path / "broken.safetensors"
    weights.write_bytes(b"not safetensors")
    with pytest.raises(PTMError, match="cannot read timm weights file"):
        load_ptm(f"timm:test_vit@{weights}")


def test_unknown_timm_model() -> None:
    with pytest.raises(PTMError, match="timm has no model named 'no_such_net'"):
        load_ptm("timm:no_such_net")

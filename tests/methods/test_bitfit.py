"""BitFit: the biases (and head) train, nothing else moves, the structure stays the PTM's."""

from __future__ import annotations

import pytest
import torch

from tests.methods.conftest import KINDS, prepare_method
from zhijian_core.methods.registry import create_method


@pytest.mark.parametrize("kind", KINDS)
def test_only_biases_move_and_the_keys_are_the_ptms(kind: str) -> None:
    prepared = prepare_method(create_method("bitfit"), kind)
    model = prepared.model
    source = prepared.ctx.ptm.backbone.source_classifier()
    source_ids = {id(p) for p in source.parameters()} if source is not None else set()
    expected = {f"backbone.{name}" for name, p in prepared.ctx.ptm.backbone.named_parameters()
                if name.endswith(".bias") and id(p) not in source_ids} | {"head.weight",
                                                                          "head.bias"}
    # The context's PTM shares no tensor with the target: its names stand for the copy's.
    assert {n for n, p in model.named_parameters() if p.requires_grad} == expected
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    prepared.method.loss(model, prepared.batch, prepared.labels, prepared.indices).backward()
    optimizer.step()
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert moved and moved <= expected
    final = prepared.method.finalize(model)
    ptm_keys = {f"backbone.{k}" for k in prepared.ctx.ptm.backbone.state_dict()}
    assert set(final.state_dict()) == ptm_keys | {"head.weight", "head.bias"}


def test_a_cnn_tunes_its_batch_norm_shifts_and_the_few_convolution_biases() -> None:
    prepared = prepare_method(create_method("bitfit"), "cnn")
    modules = dict(prepared.model.named_modules())
    owners = {n.rsplit(".", 1)[0]: type(modules[n.rsplit(".", 1)[0]]).__name__
              for n, p in prepared.model.named_parameters() if p.requires_grad
              and not n.startswith("head.")}
    assert set(owners.values()) == {"BatchNormAct2d", "Conv2d"}
    # Convolutions followed by a batch norm have no bias: only squeeze-excitation ones do.
    assert all(".se." in name for name, kind in owners.items() if kind == "Conv2d")


def test_the_head_can_stay_frozen() -> None:
    prepared = prepare_method(create_method("bitfit", {"train_head": False}), "text")
    assert not any(p.requires_grad for p in prepared.model.head.parameters())

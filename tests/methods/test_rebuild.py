"""Every Merger module kind round-trips through its architecture JSON and rebuilds exactly."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.methods.conftest import load_tiny_ptm, make_context, prepare_method, run_eval
from zhijian_core.errors import ConfigError, MethodError
from zhijian_core.methods.rebuild import read_architecture, rebuild_module
from zhijian_core.methods.registry import create_method
from zhijian_core.model import ReuseClassifier


@pytest.mark.parametrize(("name", "config"), [
    ("simpleshot", {}),
    ("knn", {"k": 3}),
    ("logit_ensemble", {"ingredients": ["run:tuned-1", "run:teacher"]}),
    ("soup", {"ingredients": ["run:tuned-1", "run:tuned-2"]}),
])
def test_round_trip_through_json(name: str, config: dict) -> None:
    prepared = prepare_method(create_method(name, config), "vit")
    final = prepared.method.finalize(prepared.model)
    text = prepared.method.architecture(prepared.ctx).model_dump_json()
    architecture = read_architecture(text)
    assert architecture.model_dump_json() == text
    rebuilt = rebuild_module(architecture, lambda spec: load_tiny_ptm(spec, seed=7).backbone)
    assert type(rebuilt) is type(final)
    rebuilt.load_state_dict(final.state_dict(), strict=True)
    torch.testing.assert_close(run_eval(rebuilt, prepared.batch), run_eval(final, prepared.batch))


def test_an_unknown_module_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown module kind 'forest'"):
        read_architecture('{"ptm": "tiny-vit", "num_classes": 3, "module": "forest"}')


def test_an_ensemble_member_with_a_changed_structure_is_refused() -> None:
    ctx = make_context("text")
    small = load_tiny_ptm("tiny-text-small")
    member = ReuseClassifier(small.backbone, 3).eval()  # fewer layers than its PTM says

    def load_model(reference: str):
        return member, ctx.ptm

    with pytest.raises(MethodError, match="changes the structure"):
        create_method("logit_ensemble", {"ingredients": ["run:graft"]}).build(
            dataclasses.replace(ctx, load_model=load_model))

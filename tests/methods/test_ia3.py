"""IA3: default placement per backbone, vectors starting at one, input or output rescaling."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.methods.conftest import KINDS, prepare_method, run_eval
from zhijian_core.errors import ConfigError
from zhijian_core.methods.ia3 import inject_ia3
from zhijian_core.methods.registry import create_method


def test_output_and_feedforward_rescaling() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    x = torch.randn(5, 4)
    first, second = (model[0].weight.detach().clone(), model[0].bias.detach().clone()), (
        model[1].weight.detach().clone(), model[1].bias.detach().clone())
    assert sorted(inject_ia3(model, ["0", "1"], ["1"])) == ["0", "1"]
    vectors = {n: p for n, p in model.named_parameters() if "ia3_l" in n}
    assert all(torch.equal(v, torch.ones_like(v)) for v in vectors.values())
    l_out, l_ff = torch.tensor([0.5, 2.0, -1.0]), torch.tensor([3.0, 0.0, 1.0])
    with torch.no_grad():
        vectors["0.ia3_l.default"].copy_(l_out.view_as(vectors["0.ia3_l.default"]))
        vectors["1.ia3_l.default"].copy_(l_ff.view_as(vectors["1.ia3_l.default"]))
        hidden = l_out * (x @ first[0].T + first[1])  # output rescaled
        expected = (l_ff * hidden) @ second[0].T + second[1]  # feed-forward: input rescaled
        torch.testing.assert_close(model(x), expected)


@pytest.mark.parametrize("kind", KINDS)
def test_default_targets_start_as_the_ptm(kind: str) -> None:
    prepared = prepare_method(create_method("ia3"), kind)
    targets, feedforward = prepared.ctx.ptm.backbone.ia3_targets()
    adapted = {n.removeprefix("backbone.model.").split(".ia3_l")[0]
               for n, _ in prepared.model.named_parameters() if "ia3_l" in n}
    assert adapted == set(targets) and set(feedforward) <= adapted
    modules = dict(prepared.model.backbone.model.named_modules())
    assert {n for n in adapted if modules[n].is_feedforward} == set(feedforward)
    ptm = prepared.ctx.ptm.backbone
    torch.testing.assert_close(run_eval(prepared.model.backbone, prepared.batch),
                               run_eval(ptm, prepared.batch))


def test_text_targets_are_keys_values_and_the_second_mlp_layer() -> None:
    backbone = prepare_method(create_method("ia3"), "text").ctx.ptm.backbone
    targets, feedforward = backbone.ia3_targets()
    assert sorted(t.split(".", 3)[-1] for t in targets) == sorted(
        ["attention.self.key", "attention.self.value", "output.dense"] * 2)
    assert [t.split(".", 3)[-1] for t in feedforward] == ["output.dense"] * 2


@pytest.mark.parametrize(("config", "message"), [
    ({"feedforward_modules": ["fc2"]}, "feedforward_modules needs target_modules"),
    ({"target_modules": ["qkv"], "feedforward_modules": ["fc2"]}, "not in target_modules"),
])
def test_feedforward_modules_must_be_targets(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_method("ia3", config)

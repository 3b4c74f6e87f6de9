"""Task arithmetic: one task vector at λ = 1 is the fine-tuned model; heads stay per task."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.methods.conftest import make_context, run_eval, tensorize
from zhijian_core.errors import ConfigError, MethodError
from zhijian_core.methods.registry import create_method


@pytest.mark.parametrize("kind", ["text", "vit", "cnn"])
def test_one_task_vector_at_scaling_one_is_the_fine_tuned_model(kind: str) -> None:
    ctx = make_context(kind)
    merged = create_method("task_arithmetic", {"ingredients": ["run:tuned-1"],
                                               "scaling": 1.0}).build(ctx)
    tuned = ctx.load_model("run:tuned-1")[0]
    for name, tensor in tuned.state_dict().items():
        torch.testing.assert_close(merged.state_dict()[name], tensor, atol=1e-6, rtol=0)
    batch = tensorize(ctx.ptm, ctx.splits.test)
    torch.testing.assert_close(run_eval(merged, batch), run_eval(tuned, batch))


def test_each_task_gets_its_head_on_one_merged_backbone() -> None:
    ctx = make_context("text")
    ingredients = ["run:tuned-2-5classes", "run:tuned-1"]
    three = create_method("task_arithmetic", {"ingredients": ingredients,
                                              "task": "run:tuned-1"}).build(ctx)
    ctx5 = make_context("text")
    ctx5.num_classes = 5
    five = create_method("task_arithmetic", {"ingredients": ingredients}).build(ctx5)
    assert three.num_classes == 3 and five.num_classes == 5
    for name, tensor in three.backbone.state_dict().items():
        assert torch.equal(five.backbone.state_dict()[name], tensor)
    assert torch.equal(three.head.weight, ctx.load_model("run:tuned-1")[0].head.weight)


def test_a_task_head_of_another_size_or_an_unknown_task_is_refused() -> None:
    ctx = make_context("vit")
    with pytest.raises(MethodError, match="set `task`"):
        create_method("task_arithmetic", {"ingredients": ["run:tuned-1-5classes"]}).build(ctx)
    with pytest.raises(ConfigError, match="not one of the ingredients"):
        create_method("task_arithmetic", {"ingredients": ["run:tuned-1"], "task": "run:x"})


def test_the_ptm_itself_is_not_modified() -> None:
    ctx = make_context("cnn")
    before = {n: t.clone() for n, t in ctx.ptm.backbone.state_dict().items()}
    create_method("task_arithmetic", {"ingredients": ["run:tuned-1", "run:tuned-2"]}).build(ctx)
    assert all(torch.equal(t, before[n]) for n, t in ctx.ptm.backbone.state_dict().items())


def test_an_ingredient_tuned_from_another_ptm_is_refused() -> None:
    ctx = make_context("vit")
    other = dataclasses.replace(ctx.ptm, spec="tiny-vit-other", digest="another-digest")
    tuned = ctx.load_model("run:tuned-1")[0]
    ctx = dataclasses.replace(ctx, load_model=lambda reference: (tuned, other))
    with pytest.raises(MethodError, match="tuned from tiny-vit-other"):
        create_method("task_arithmetic", {"ingredients": ["run:x"]}).build(ctx)

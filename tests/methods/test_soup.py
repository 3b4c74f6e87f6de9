"""Model soups: the uniform soup of two models is their average; greedy never loses to its best
ingredient on validation; ingredients of another task or architecture are refused."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.methods.conftest import load_tiny_ptm, make_context
from zhijian_core.errors import MethodError
from zhijian_core.methods.ingredients import validation_score
from zhijian_core.methods.registry import create_method
from zhijian_core.model import ReuseClassifier


@pytest.mark.parametrize("kind", ["text", "cnn"])
def test_uniform_soup_of_two_models_is_their_average(kind: str) -> None:
    ctx = make_context(kind)
    soup = create_method("soup", {"ingredients": ["run:tuned-1", "run:tuned-2"]}).build(ctx)
    one, two = ctx.load_model("run:tuned-1")[0], ctx.load_model("run:tuned-2")[0]
    for name, tensor in soup.state_dict().items():
        a, b = one.state_dict()[name], two.state_dict()[name]
        if tensor.is_floating_point():
            torch.testing.assert_close(tensor, (a + b) / 2, atol=1e-7, rtol=0)
        else:
            assert torch.equal(tensor, a)
    assert not any(p.requires_grad for p in soup.parameters())


def test_greedy_soup_is_never_worse_than_its_best_ingredient() -> None:
    ctx = make_context("vit")
    references = ["run:tuned-1", "run:tuned-2", "run:tuned-3", "run:tuned-4"]
    method = create_method("soup", {"ingredients": references, "recipe": "greedy"})
    soup = method.build(ctx)
    best = max(validation_score(ctx, ctx.load_model(r)[0], ctx.ptm) for r in references)
    assert validation_score(ctx, soup, ctx.ptm) >= best
    assert method.kept and set(method.kept) <= set(references)


def test_ingredients_of_another_task_or_architecture_are_refused() -> None:
    ctx = make_context("text")
    with pytest.raises(MethodError, match="5 classes"):
        create_method("soup", {"ingredients": ["run:tuned-1", "run:tuned-2-5classes"]}).build(ctx)
    small = load_tiny_ptm("tiny-text-small")

    def load_model(reference: str):
        return ReuseClassifier(small.backbone, 3).eval(), small

    with pytest.raises(MethodError, match="architecture"):
        create_method("soup", {"ingredients": ["run:small"]}).build(
            dataclasses.replace(ctx, load_model=load_model))

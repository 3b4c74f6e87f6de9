"""WiSE-FT: the ends at α = 0 and 1, the fitted zero-shot end, and α chosen on validation."""

from __future__ import annotations

import pytest
import torch

from tests.methods.conftest import make_context, run_eval, tensorize
from zhijian_core.methods.ingredients import validation_score
from zhijian_core.methods.registry import create_method
from zhijian_core.methods.wise_ft import fit_logistic_head


@pytest.mark.parametrize("kind", ["text", "vit"])
def test_alpha_zero_and_one_give_the_two_ends(kind: str) -> None:
    ctx = make_context(kind)
    batch = tensorize(ctx.ptm, ctx.splits.test)
    zero = create_method("wise_ft", {"fine_tuned": "run:tuned-1", "alpha": 0.0})
    one = create_method("wise_ft", {"fine_tuned": "run:tuned-1", "alpha": 1.0})
    fine_tuned = ctx.load_model("run:tuned-1")[0]
    zero_shot = zero.zero_shot_end(ctx)
    assert torch.equal(run_eval(zero.build(ctx), batch), run_eval(zero_shot, batch))
    assert torch.equal(run_eval(one.build(ctx), batch), run_eval(fine_tuned, batch))


def test_the_zero_shot_end_is_the_ptm_with_a_fitted_probe() -> None:
    ctx = make_context("cnn")
    zero_shot = create_method("wise_ft", {"fine_tuned": "run:tuned-1"}).zero_shot_end(ctx)
    for name, tensor in ctx.ptm.backbone.state_dict().items():
        assert torch.equal(zero_shot.backbone.state_dict()[name], tensor)
    # The probe fits the training split (separable tiny data) and is the L-BFGS optimum.
    features = ctx.encode(ctx.ptm, ctx.splits.train)
    labels = torch.as_tensor(ctx.splits.train.labels)
    assert torch.equal(zero_shot.head(features).argmax(-1), labels)
    weight = zero_shot.head.weight.detach().double().requires_grad_(True)
    bias = zero_shot.head.bias.detach().double().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(features.double() @ weight.T + bias, labels) \
        + 0.5 * 1e-3 * weight.pow(2).sum()
    loss.backward()
    assert float(weight.grad.abs().max()) < 1e-4 and float(bias.grad.abs().max()) < 1e-4


def test_fit_logistic_head_is_deterministic() -> None:
    g = torch.Generator().manual_seed(0)
    features, labels = torch.randn(30, 5, generator=g), torch.arange(30) % 3
    first = fit_logistic_head(features, labels, 3, 1e-2)
    second = fit_logistic_head(features, labels, 3, 1e-2)
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_alpha_is_chosen_on_validation_and_a_given_zero_shot_run_is_used() -> None:
    ctx = make_context("vit")
    alphas = [0.0, 0.5, 1.0]
    method = create_method("wise_ft", {"fine_tuned": "run:tuned-1", "zero_shot": "run:tuned-2",
                                       "alphas": alphas})
    chosen = method.build(ctx)
    assert method.alpha in alphas
    scores = {}
    for alpha in alphas:
        fixed = create_method("wise_ft", {"fine_tuned": "run:tuned-1",
                                          "zero_shot": "run:tuned-2", "alpha": alpha})
        scores[alpha] = validation_score(ctx, fixed.build(ctx), ctx.ptm)
    assert scores[method.alpha] == max(scores.values())
    assert validation_score(ctx, chosen, ctx.ptm) == max(scores.values())

"""Fisher merging: the Fisher by hand, equal Fishers give the average, the method end to end."""

from __future__ import annotations

import torch
from torch import nn

from tests.methods.conftest import make_context
from zhijian_core.methods.fisher import diagonal_fisher
from zhijian_core.methods.merge_math import fisher_weighted_average, weighted_average
from zhijian_core.methods.registry import create_method


def test_equal_fishers_give_the_average() -> None:
    g = torch.Generator().manual_seed(0)
    states = [{"w": torch.randn(3, 2, generator=g)} for _ in range(3)]
    fisher = {"w": torch.rand(3, 2, generator=g)}
    torch.testing.assert_close(fisher_weighted_average(states, [fisher] * 3)["w"],
                               weighted_average(states)["w"])
    zero = {"w": torch.zeros(3, 2)}
    torch.testing.assert_close(fisher_weighted_average(states, [zero] * 3, floor=1e-8)["w"],
                               weighted_average(states)["w"])


def test_fisher_weighted_average_by_hand() -> None:
    states = [{"w": torch.tensor([1.0, 2.0])}, {"w": torch.tensor([3.0, 4.0])}]
    fishers = [{"w": torch.tensor([1.0, 3.0])}, {"w": torch.tensor([3.0, 1.0])}]
    # (1·1 + 3·3) / 4 = 2.5 and (3·2 + 1·4) / 4 = 2.5
    torch.testing.assert_close(fisher_weighted_average(states, fishers)["w"],
                               torch.tensor([2.5, 2.5]))


class _Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.linear(batch["x"])


def test_diagonal_fisher_by_hand() -> None:
    model = _Linear()
    x = torch.tensor([[1.0, 2.0], [-1.0, 0.5]])
    fisher = diagonal_fisher(model, {"x": x}, {"w": model.linear.weight})["w"]
    # d log p_c / dW = (e_c - p) x^T, so F = mean_n Σ_c p_c ((e_c - p) x^T)².
    expected = torch.zeros(2, 2, dtype=torch.float64)
    for row in x.double():
        p = torch.softmax(model.linear.weight.double() @ row, -1)
        for c in range(2):
            grad = torch.outer(torch.eye(2, dtype=torch.float64)[c] - p, row)
            expected += p[c] * grad.pow(2)
    torch.testing.assert_close(fisher, expected / 2)


def test_merging_identical_ingredients_gives_that_model() -> None:
    ctx = make_context("vit")
    merged = create_method("fisher", {"ingredients": ["run:tuned-1", "run:tuned-1"],
                                      "fisher_examples": 2}).build(ctx)
    tuned = ctx.load_model("run:tuned-1")[0]
    for name, tensor in tuned.state_dict().items():
        torch.testing.assert_close(merged.state_dict()[name], tensor, atol=1e-6, rtol=0)


def test_the_ingredient_with_the_larger_fisher_dominates() -> None:
    states = [{"w": torch.tensor([1.0, -1.0])}, {"w": torch.tensor([5.0, 3.0])}]
    fishers = [{"w": torch.tensor([1e6, 1e-6])}, {"w": torch.tensor([1e-6, 1e6])}]
    torch.testing.assert_close(fisher_weighted_average(states, fishers)["w"],
                               torch.tensor([1.0, 3.0]), atol=1e-4, rtol=0)

"""TIES merging: the trim, elect and disjoint-merge steps against a hand computation, and the
method's finalized model."""

from __future__ import annotations

import torch

from tests.methods.conftest import make_context, run_eval, tensorize
from zhijian_core.methods.merge_math import disjoint_mean, elect_sign, ties_merge
from zhijian_core.methods.registry import create_method


def test_ties_equals_the_hand_computation() -> None:
    base = {"a": torch.tensor([1.0, 1.0]), "b": torch.tensor([0.0, 0.0, 0.0])}
    vectors = [
        {"a": torch.tensor([4.0, -1.0]), "b": torch.tensor([0.5, -2.0, 1.0])},
        {"a": torch.tensor([-3.0, 2.0]), "b": torch.tensor([0.2, -1.0, 5.0])},
        {"a": torch.tensor([-2.0, 0.1]), "b": torch.tensor([0.3, 3.0, -0.5])},
    ]
    # Trim to 40% (2 of 5 entries each): [4, 0 | 0, -2, 0], [-3, 0 | 0, 0, 5], [-2, 0 | 0, 3, 0].
    # Elected signs of the sums [-1, 0 | 0, 1, 5]: [-1, 0 | 0, +1, +1].
    # Disjoint means: a0 = (-3 - 2) / 2, b1 = 3 (the -2 disagrees), b2 = 5; the rest 0.
    merged = ties_merge(base, vectors, density=0.4, scaling=0.5)
    torch.testing.assert_close(merged["a"], torch.tensor([1.0 + 0.5 * -2.5, 1.0]))
    torch.testing.assert_close(merged["b"], torch.tensor([0.0, 1.5, 2.5]))


def test_elect_and_disjoint_mean_by_hand() -> None:
    vectors = [{"w": torch.tensor([1.0, -2.0, 0.0])}, {"w": torch.tensor([3.0, 1.0, 0.0])}]
    signs = elect_sign(vectors)
    assert torch.equal(signs["w"], torch.tensor([1.0, -1.0, 0.0]))
    assert torch.equal(disjoint_mean(vectors, signs)["w"], torch.tensor([2.0, -2.0, 0.0]))


def test_one_task_vector_kept_whole_at_scaling_one_is_the_tuned_model() -> None:
    ctx = make_context("vit")
    method = create_method("ties", {"ingredients": ["run:tuned-1"], "density": 1.0,
                                    "scaling": 1.0})
    merged = method.build(ctx)
    tuned, _ = ctx.load_model("run:tuned-1")
    batch = tensorize(ctx.ptm, ctx.splits.test)
    torch.testing.assert_close(run_eval(merged, batch), run_eval(tuned, batch))
    for name, tensor in tuned.state_dict().items():
        torch.testing.assert_close(merged.state_dict()[name], tensor)

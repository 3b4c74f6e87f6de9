"""The pure merge math equals its closed forms on hand-made tensors."""

from __future__ import annotations

import pytest
import torch

from zhijian_core.methods.merge_math import (add_task_vectors, check_compatible, interpolate,
                                             task_vector, trim_top_k, weighted_average)
from zhijian_core.methods.soup import greedy_soup


def _random_state(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(4, 3, generator=g), "b": torch.randn(3, generator=g)}


def test_uniform_soup_of_two_is_their_average() -> None:
    a = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor([0.5])}
    b = {"w": torch.tensor([3.0, 6.0]), "b": torch.tensor([-0.5])}
    soup = weighted_average([a, b])
    assert torch.equal(soup["w"], torch.tensor([2.0, 4.0]))
    assert torch.equal(soup["b"], torch.tensor([0.0]))
    assert soup["w"].dtype == torch.float32


def test_weighted_average_by_hand() -> None:
    a, b = {"w": torch.tensor([1.0])}, {"w": torch.tensor([4.0])}
    assert torch.equal(weighted_average([a, b], [2.0, 1.0])["w"], torch.tensor([2.0]))
    with pytest.raises(ValueError, match="non-negative"):
        weighted_average([a, b], [0.0, 0.0])


def test_interpolation_equals_its_ends_and_the_line_between() -> None:
    start, end = _random_state(0), _random_state(1)
    for name in start:
        assert torch.equal(interpolate(start, end, 0.0)[name], start[name])
        assert torch.equal(interpolate(start, end, 1.0)[name], end[name])
        torch.testing.assert_close(interpolate(start, end, 0.25)[name],
                                   0.75 * start[name] + 0.25 * end[name])


def test_one_task_vector_at_scaling_one_gives_the_tuned_weights_back() -> None:
    base, tuned = _random_state(0), _random_state(1)
    merged = add_task_vectors(base, [task_vector(base, tuned)], 1.0)
    assert all(torch.equal(merged[name], tuned[name]) for name in base)


def test_task_arithmetic_by_hand() -> None:
    base = {"w": torch.tensor([1.0, 1.0])}
    one, two = {"w": torch.tensor([2.0, 0.0])}, {"w": torch.tensor([1.0, 3.0])}
    merged = add_task_vectors(base, [task_vector(base, one), task_vector(base, two)], 0.5)
    assert torch.equal(merged["w"], torch.tensor([1.5, 1.5]))  # 1 + 0.5 (1 + 0), 1 + 0.5 (-1 + 2)


def test_trim_keeps_the_largest_magnitudes_over_the_whole_vector() -> None:
    vector = {"a": torch.tensor([4.0, -1.0]), "b": torch.tensor([0.5, -2.0, 1.0])}
    kept = trim_top_k(vector, 0.4)  # 2 of 5 entries: 4 and -2, across both tensors
    assert torch.equal(kept["a"], torch.tensor([4.0, 0.0]))
    assert torch.equal(kept["b"], torch.tensor([0.0, -2.0, 0.0]))
    assert all(torch.equal(trim_top_k(vector, 1.0)[n], vector[n]) for n in vector)
    with pytest.raises(ValueError, match="density"):
        trim_top_k(vector, 0.0)


def test_incompatible_states_are_refused_with_the_parameter_named() -> None:
    with pytest.raises(ValueError, match="'w'"):
        check_compatible([{"w": torch.zeros(2)}, {"w": torch.zeros(3)}])
    with pytest.raises(ValueError, match="missing"):
        check_compatible([{"w": torch.zeros(2)}, {"v": torch.zeros(2)}])


def test_greedy_soup_adds_only_what_does_not_lower_the_score() -> None:
    # Scores: an ingredient's is its "w"; a soup scores higher the closer its mean is to 2.
    states = [{"w": torch.tensor([v])} for v in (1.0, 3.0, 2.5, -9.0)]

    def score(state: dict[str, torch.Tensor]) -> float:
        value = float(state["w"])
        return value if value in (1.0, 3.0, 2.5, -9.0) else 3.0 - abs(value - 2.5) * 0.1

    kept, best = greedy_soup(states, score)
    # Sorted by own score: 3.0 (index 1), 2.5 (index 2), 1.0 (index 0), -9 (index 3).
    # mean(3, 2.5) = 2.75 scores 2.975 < 3.0: not added; mean(3, 1) = 2 scores 2.95: not added;
    # mean(3, -9) = -3 scores 2.45: not added.
    assert kept == [1] and best == 3.0
    assert best >= max(score(s) for s in states)


def test_greedy_soup_keeps_an_ingredient_that_helps() -> None:
    states = [{"w": torch.tensor([v])} for v in (0.0, 4.0)]
    scores = {0.0: 1.0, 4.0: 0.5, 2.0: 1.5}
    kept, best = greedy_soup(states, lambda s: scores[float(s["w"])])
    assert kept == [0, 1] and best == 1.5


def test_trim_breaks_magnitude_ties_by_position() -> None:
    vector = {"a": torch.tensor([1.0, -2.0]), "b": torch.tensor([2.0, -1.0])}
    kept = trim_top_k(vector, 0.25)  # one entry of four; -2 and 2 tie: the earlier one stays
    assert torch.equal(kept["a"], torch.tensor([0.0, -2.0]))
    assert torch.equal(kept["b"], torch.tensor([0.0, 0.0]))

"""The Pareto front on small hand-checked cases."""

from __future__ import annotations

import math

import pytest

from zhijian_core.compare.pareto import pareto_front


def test_empty_and_single() -> None:
    assert pareto_front([]) == []
    assert pareto_front([(3.0, 0.5)]) == [0]


def test_lower_x_higher_y_front() -> None:
    # (1, .6) and (5, .9) trade off; (2, .5) is worse than (1, .6) on both; (6, .8) worse than (5, .9).
    points = [(2.0, 0.5), (1.0, 0.6), (5.0, 0.9), (6.0, 0.8), (3.0, 0.7)]
    assert pareto_front(points) == [1, 2, 4]


def test_equal_points_are_both_kept() -> None:
    assert pareto_front([(1.0, 0.5), (1.0, 0.5), (2.0, 0.4)]) == [0, 1]


def test_tie_on_one_axis_is_dominated_by_the_better_other() -> None:
    # Same x, lower y: dominated. Same y, higher x: dominated.
    assert pareto_front([(1.0, 0.5), (1.0, 0.4), (2.0, 0.5)]) == [0]


def test_directions_can_be_flipped() -> None:
    points = [(1.0, 1.0), (2.0, 2.0)]
    assert pareto_front(points) == [0, 1]
    assert pareto_front(points, maximise_y=False) == [0]
    assert pareto_front(points, minimise_x=False) == [1]
    assert pareto_front(points, maximise_y=False, minimise_x=False) == [0, 1]


def test_zero_x_is_allowed() -> None:
    # Training-free methods have 0 trainable parameters.
    assert pareto_front([(0.0, 0.6), (1000.0, 0.7), (10.0, 0.55)]) == [0, 1]


@pytest.mark.parametrize("bad", [(math.nan, 0.5), (1.0, math.inf)])
def test_non_finite_is_refused(bad: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="point 1"):
        pareto_front([(1.0, 0.5), bad])

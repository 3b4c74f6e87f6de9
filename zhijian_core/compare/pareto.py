"""The Pareto front of quality against a cost: which methods no other method beats on both."""

from __future__ import annotations

import math


def pareto_front(
    points: list[tuple[float, float]], maximise_y: bool = True, minimise_x: bool = True
) -> list[int]:
    """Indices of the non-dominated points.

    Point ``j`` dominates point ``i`` when it is at least as good on both axes and strictly better on
    one. Equal points do not dominate each other, so duplicates on the front are all kept.

    Args:
        points: ``(x, y)`` pairs, for example ``(latency_ms, macro_f1)``.
        maximise_y: Higher ``y`` is better (else lower).
        minimise_x: Lower ``x`` is better (else higher).

    Returns:
        Indices into ``points`` of the points no other point dominates, ascending.

    Raises:
        ValueError: A coordinate is NaN or infinite.
    """
    for i, (x, y) in enumerate(points):
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"point {i} is ({x}, {y}); Pareto coordinates must be finite")
    # Flip signs so that "better" is "smaller" on both axes.
    sx = 1.0 if minimise_x else -1.0
    sy = -1.0 if maximise_y else 1.0
    keyed = [(sx * x, sy * y) for x, y in points]

    def dominated(i: int) -> bool:
        xi, yi = keyed[i]
        return any(
            xj <= xi and yj <= yi and (xj < xi or yj < yi)
            for j, (xj, yj) in enumerate(keyed)
            if j != i
        )

    return [i for i in range(len(keyed)) if not dominated(i)]

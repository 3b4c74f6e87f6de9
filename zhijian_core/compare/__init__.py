"""Compare reuse methods on quality and cost: baselines, aggregation over seeds, claims, leaderboard.

Importing this package imports neither scikit-learn nor matplotlib; they are imported where used.
"""

from zhijian_core.compare.baselines import run_baseline
from zhijian_core.compare.leaderboard import (
    Leaderboard,
    build_leaderboard,
    read_leaderboard,
    render_markdown,
    render_text,
    table_rows,
    write_leaderboard,
)
from zhijian_core.compare.pareto import pareto_front
from zhijian_core.compare.plot import plot_leaderboard
from zhijian_core.compare.stats import Claim, Entry, MeanStd, aggregate, beats, faster

__all__ = [
    "Claim",
    "Entry",
    "Leaderboard",
    "MeanStd",
    "aggregate",
    "beats",
    "build_leaderboard",
    "faster",
    "pareto_front",
    "plot_leaderboard",
    "read_leaderboard",
    "render_markdown",
    "render_text",
    "run_baseline",
    "table_rows",
    "write_leaderboard",
]

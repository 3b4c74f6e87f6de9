"""The public surface of zhijian_core.compare, and that importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import zhijian_core.compare as compare


def test_exported_members() -> None:
    assert sorted(compare.__all__) == [
        "Claim", "Entry", "Leaderboard", "MeanStd", "aggregate", "beats", "build_leaderboard",
        "faster", "pareto_front", "plot_leaderboard", "read_leaderboard", "render_markdown",
        "render_text", "run_baseline", "table_rows", "write_leaderboard",
    ]
    for name in compare.__all__:
        assert getattr(compare, name).__doc__, f"{name} has no docstring"


def test_import_loads_no_heavy_dependency() -> None:
    code = ("import sys, zhijian_core.compare, zhijian_core.train.metrics; "
            "print(sorted(m for m in ('sklearn', 'matplotlib', 'psutil', 'torch', 'PIL') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""The comparison picture: quality against inference latency and against trainable parameters.

Drawn with matplotlib's Agg canvas on a private ``Figure`` (no pyplot), so plotting neither needs a
display nor changes matplotlib's global state.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from zhijian_core.compare.pareto import pareto_front
from zhijian_core.compare.stats import Entry
from zhijian_core.errors import ConfigError, MissingDependencyError

_LABEL_OFFSETS = ((6, 5), (6, -12), (-6, 5), (-6, -12), (6, 14), (-6, 14), (6, -21), (-6, -21))
"""Offsets (points) tried in turn for a point's label until it overlaps no other label or marker."""


def plot_leaderboard(entries: list[Entry], out_path: Path, title: str) -> Path:
    """Write one PNG with two panels: macro-F1 against latency, and against trainable parameters.

    Both x axes are logarithmic; error bars are the std over seeds; each point is labelled with its
    display name; the Pareto front (higher macro-F1, lower x) is drawn as a step line and its points
    are ringed. Training-free methods (0 trainable parameters) sit at a floor value on the right
    panel, marked as such. The best non-PTM baseline is drawn as a horizontal dotted line.

    Args:
        entries: Aggregated entries (see :func:`zhijian_core.compare.stats.aggregate`).
        out_path: File to write (PNG); its folder must exist.
        title: Title drawn above both panels.

    Returns:
        ``out_path``.

    Raises:
        ConfigError: ``entries`` is empty.
        MissingDependencyError: matplotlib is not installed.
    """
    if not entries:
        raise ConfigError("nothing to plot: pass at least one entry")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError("plotting needs matplotlib: pip install 'zhijian[train]'") from exc

    figure = Figure(figsize=(14, 6), dpi=110, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, sharey=True)
    colours = _family_colours(entries)

    latency = [max(e.latency_ms_b1.mean, 1e-6) for e in entries]
    _panel(left, canvas, entries, latency, [e.latency_ms_b1.std for e in entries], colours)
    left.set_xlabel("inference latency at batch 1 (ms, log scale)")
    left.set_ylabel("macro-F1 on test (mean ± std over seeds)")
    left.set_title("quality vs latency")

    positive = [e.trainable_params for e in entries if e.trainable_params > 0]
    floor = 10.0 ** (math.floor(math.log10(min(positive))) - 1) if positive else 1.0
    params = [float(e.trainable_params) if e.trainable_params > 0 else floor for e in entries]
    _panel(right, canvas, entries, params, [0.0] * len(entries), colours,
           front_x=[float(e.trainable_params) for e in entries])
    if len(positive) < len(entries):
        # The floor is no parameter count: tick it "0" and fence it off from the log scale.
        top = right.get_xlim()[1]
        decades = [10.0 ** k for k in range(round(math.log10(floor)) + 1, math.floor(math.log10(top)) + 1)]
        right.set_xticks([floor] + decades,
                         ["0"] + [f"$10^{{{round(math.log10(t))}}}$" for t in decades])
        right.axvline(floor * 3.0, color="0.6", linestyle=":", linewidth=1)
        right.annotate("training-free\n(0 trainable)", xy=(floor, 0), xycoords=("data", "axes fraction"),
                       xytext=(0, 6), textcoords="offset points", ha="center", va="bottom",
                       fontsize=8, color="0.35")
    right.set_xlabel("trainable parameters (log scale)")
    right.set_title("quality vs trainable parameters")
    right.tick_params(labelleft=True)

    handles, labels = right.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    right.legend(unique.values(), unique.keys(), loc="lower right", fontsize=8, framealpha=0.85)
    figure.suptitle(title, fontsize=13)
    figure.savefig(out_path, format="png")
    return out_path


def _panel(ax: Any, canvas: Any, entries: list[Entry], xs: list[float], xerr: list[float],
           colours: dict[str, Any], front_x: list[float] | None = None) -> None:
    """Draw one panel: points with error bars, the baseline line, the Pareto front and labels."""
    ys = [e.macro_f1.mean for e in entries]
    for entry, x, y, dx in zip(entries, xs, ys, xerr):
        is_baseline = entry.family == "baseline"
        # Lower error bar clipped so it stays positive on the log axis.
        ax.errorbar([x], [y], xerr=[[min(dx, 0.9 * x)], [dx]], yerr=[entry.macro_f1.std],
                    fmt="s" if is_baseline else "o", markersize=7, capsize=3,
                    color=colours[entry.family], label=entry.family)
    baselines = [e.macro_f1.mean for e in entries if e.family == "baseline"]
    if baselines:
        ax.axhline(max(baselines), color="0.4", linestyle=":", linewidth=1, label="non-PTM baseline")

    front = pareto_front(list(zip(front_x if front_x is not None else xs, ys)))
    front_pts = sorted((xs[i], ys[i]) for i in front)
    ax.step([p[0] for p in front_pts], [p[1] for p in front_pts], where="post", color="k",
            linestyle="--", linewidth=1.2, alpha=0.7, label="Pareto front")
    ax.scatter([p[0] for p in front_pts], [p[1] for p in front_pts], s=260, facecolors="none",
               edgecolors="k", linewidths=1.3, zorder=3)

    ax.set_xscale("log")
    ax.grid(True, which="major", alpha=0.3)
    _set_limits(ax, xs, ys, [e.macro_f1.std for e in entries])
    _label_points(ax, canvas, [e.name for e in entries], xs, ys)


def _set_limits(ax: Any, xs: list[float], ys: list[float], ystd: list[float]) -> None:
    """Fix the limits (with room for labels) before labels are placed, so their boxes are final."""
    lo, hi = math.log10(min(xs)), math.log10(max(xs))
    pad = max(0.35, 0.15 * (hi - lo))
    ax.set_xlim(10 ** (lo - pad), 10 ** (hi + pad))
    ylo = min(y - s for y, s in zip(ys, ystd))
    yhi = max(y + s for y, s in zip(ys, ystd))
    ypad = max(0.02, 0.12 * (yhi - ylo))
    ax.set_ylim(ylo - ypad, yhi + ypad)


def _label_points(ax: Any, canvas: Any, names: list[str], xs: list[float], ys: list[float]) -> None:
    """Label each point, trying offsets until the label overlaps no other label and no marker."""
    from matplotlib.transforms import Bbox

    renderer = canvas.get_renderer()
    radius = 5.0 * canvas.figure.dpi / 72.0
    markers = []
    for x, y in zip(xs, ys):
        px, py = ax.transData.transform((x, y))
        markers.append(Bbox.from_extents(px - radius, py - radius, px + radius, py + radius))
    placed: list[Any] = []
    for name, x, y in sorted(zip(names, xs, ys), key=lambda p: -p[2]):
        text = None
        for dx, dy in _LABEL_OFFSETS:
            if text is not None:
                text.remove()
            text = ax.annotate(name, (x, y), xytext=(dx, dy), textcoords="offset points",
                               ha="left" if dx > 0 else "right", fontsize=8.5)
            box = text.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed + markers):
                break
        else:
            text.remove()
            text = ax.annotate(name, (x, y), xytext=_LABEL_OFFSETS[0], textcoords="offset points",
                               ha="left", fontsize=8.5)
            box = text.get_window_extent(renderer)
        placed.append(box)


def _family_colours(entries: list[Entry]) -> dict[str, Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    families = sorted({e.family for e in entries} - {"baseline"})
    colours: dict[str, Any] = {family: palette(i % 10) for i, family in enumerate(families)}
    colours["baseline"] = "0.25"
    return colours

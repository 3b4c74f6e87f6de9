"""Aggregation of runs over seeds, and the one rule for claiming that a method is better.

A claim "A beats B" on a metric holds only when the difference of the means exceeds the larger of
the two standard deviations over seeds (sample std, ``ddof=1``). With one seed the stds are 0 and
any positive difference holds, so a single-seed comparison is a weak claim; run several seeds.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from zhijian_core.errors import ConfigError
from zhijian_core.train.result import RunResult

QualityMetric = Literal["macro_f1", "accuracy"]
"""Metrics where higher is better and :func:`beats` applies."""
CostMetric = Literal["latency_ms_b1", "throughput_b32", "train_seconds", "epoch_seconds"]
"""Timing metrics :func:`faster` applies to (throughput: higher is faster; the others: lower)."""

_QUALITY_METRICS = ("macro_f1", "accuracy")
_LOWER_IS_FASTER = {"latency_ms_b1": True, "throughput_b32": False, "train_seconds": True,
                    "epoch_seconds": True}


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MeanStd(_Record):
    """Mean and sample standard deviation of one metric over seeds."""

    mean: float
    """Mean over seeds."""
    std: float
    """Sample standard deviation over seeds (``ddof=1``); 0.0 for a single seed."""


class Entry(_Record):
    """One leaderboard row: a method (by display name) aggregated over its seeds."""

    name: str
    """Display name (``RunResult.display``)."""
    method: str
    """Registry name of the method."""
    family: str
    """Family of the method (``baseline`` for the non-PTM baselines)."""
    ptm: str
    """PTM the method reused (``none`` for baselines)."""
    n_seeds: int
    """Number of runs aggregated."""
    seeds: list[int]
    """Seeds of those runs, ascending."""
    macro_f1: MeanStd
    """Test macro-F1."""
    accuracy: MeanStd
    """Test accuracy."""
    latency_ms_b1: MeanStd
    """Median latency at batch size 1 (ms)."""
    throughput_b32: MeanStd
    """Throughput at batch size 32 (examples/s)."""
    train_seconds: MeanStd
    """Wall time of fitting (s)."""
    epoch_seconds: MeanStd | None
    """Median epoch time (s); ``None`` when no run trained by gradient."""
    peak_memory_mb: MeanStd
    """Peak extra memory during fitting (MB)."""
    trainable_params: int
    """Parameters updated by training (from the first run; equal across seeds)."""
    total_params: int
    """Parameters of the finalized model (from the first run)."""
    trainable_fraction: float
    """``trainable_params / total_params`` (0.0 when ``total_params`` is 0)."""


class Claim(_Record):
    """The outcome of comparing two entries on one metric under the std rule."""

    a: str
    """Name of the entry the claim is about."""
    b: str
    """Name of the entry it is compared against."""
    metric: str
    """Metric compared."""
    mean_a: float
    """Mean of ``a``."""
    mean_b: float
    """Mean of ``b``."""
    std_a: float
    """Standard deviation of ``a``."""
    std_b: float
    """Standard deviation of ``b``."""
    diff: float
    """Improvement of ``a`` over ``b`` (positive when ``a`` is better)."""
    threshold: float
    """``max(std_a, std_b)``: the improvement must exceed it."""
    holds: bool
    """Whether ``diff > threshold``."""
    text: str
    """One line stating the claim or its negation, with the numbers."""


def _mean_std(values: list[float]) -> MeanStd:
    arr = np.asarray(values, dtype=np.float64)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return MeanStd(mean=float(arr.mean()), std=std)


def _entry(name: str, runs: list[RunResult]) -> Entry:
    first = runs[0]
    for run in runs[1:]:
        for field in ("method", "family", "ptm", "dataset"):
            if getattr(run, field) != getattr(first, field):
                raise ConfigError(
                    f"runs named {name!r} differ in {field} ({getattr(first, field)!r} vs "
                    f"{getattr(run, field)!r}); give each variant its own label"
                )
    seeds = [run.seed for run in runs]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(
            f"runs named {name!r} repeat a seed ({sorted(seeds)}); keep one run per seed or give "
            "each variant its own label"
        )
    epochs = [r.cost.epoch_seconds for r in runs if r.cost.epoch_seconds is not None]
    total = first.cost.total_params
    return Entry(
        name=name,
        method=first.method,
        family=first.family,
        ptm=first.ptm,
        n_seeds=len(runs),
        seeds=sorted(seeds),
        macro_f1=_mean_std([r.quality.macro_f1 for r in runs]),
        accuracy=_mean_std([r.quality.accuracy for r in runs]),
        latency_ms_b1=_mean_std([r.cost.latency_ms_b1 for r in runs]),
        throughput_b32=_mean_std([r.cost.throughput_b32 for r in runs]),
        train_seconds=_mean_std([r.cost.train_seconds for r in runs]),
        epoch_seconds=_mean_std(epochs) if epochs else None,
        peak_memory_mb=_mean_std([r.cost.peak_memory_mb for r in runs]),
        trainable_params=first.cost.trainable_params,
        total_params=total,
        trainable_fraction=first.cost.trainable_params / total if total else 0.0,
    )


def aggregate(results: list[RunResult]) -> list[Entry]:
    """Group runs by display name and aggregate each group over its seeds.

    Args:
        results: Runs of one comparison (any order, any number of seeds per method).

    Returns:
        One entry per display name, in order of first appearance.

    Raises:
        ConfigError: No runs, or runs sharing a display name that differ in method, family, PTM or
            dataset, or repeat a seed.
    """
    if not results:
        raise ConfigError("no runs to aggregate: pass at least one RunResult")
    groups: dict[str, list[RunResult]] = {}
    for run in results:
        groups.setdefault(run.display, []).append(run)
    return [_entry(name, runs) for name, runs in groups.items()]


def format_number(value: float) -> str:
    """Format a metric value compactly: three decimals below 1, fewer as the value grows.

    Args:
        value: The number.

    Returns:
        ``0.781``, ``5.00``, ``12.3``, ``1520`` and the like.
    """
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    for bound, decimals in ((1, 3), (10, 2), (100, 1)):
        if magnitude < bound:
            return f"{value:.{decimals}f}"
    return f"{value:.0f}"


def _metric(entry: Entry, metric: str) -> MeanStd:
    value = getattr(entry, metric)
    if value is None:
        raise ConfigError(
            f"{entry.name!r} has no {metric} (it did not train by gradient); compare on "
            "train_seconds instead"
        )
    return value


def _claim(a: Entry, b: Entry, metric: str, higher_is_better: bool, verb: str, negated: str) -> Claim:
    sa, sb = _metric(a, metric), _metric(b, metric)
    diff = sa.mean - sb.mean if higher_is_better else sb.mean - sa.mean
    threshold = max(sa.std, sb.std)
    holds = diff > threshold
    relation = ">" if holds else "<="
    text = (
        f"{a.name} {verb if holds else negated} {b.name} on {metric}: "
        f"{format_number(sa.mean)}±{format_number(sa.std)} vs "
        f"{format_number(sb.mean)}±{format_number(sb.std)} "
        f"(diff {format_number(diff)} {relation} {format_number(threshold)})"
    )
    return Claim(a=a.name, b=b.name, metric=metric, mean_a=sa.mean, mean_b=sb.mean, std_a=sa.std,
                 std_b=sb.std, diff=diff, threshold=threshold, holds=holds, text=text)


def beats(a: Entry, b: Entry, metric: QualityMetric = "macro_f1") -> Claim:
    """Whether ``a`` is better than ``b`` on a quality metric beyond the spread over seeds.

    The claim holds iff ``mean(a) - mean(b) > max(std(a), std(b))`` (strictly).

    Args:
        a: The entry the claim is about.
        b: The entry it is compared against (for example the non-PTM baseline).
        metric: ``macro_f1`` or ``accuracy``.

    Returns:
        The claim, with both means and stds, the difference and a one-line text.

    Raises:
        ConfigError: ``metric`` is not a quality metric.
    """
    if metric not in _QUALITY_METRICS:
        raise ConfigError(f"beats compares quality metrics {_QUALITY_METRICS}, not {metric!r}; "
                          "use faster() for timings")
    return _claim(a, b, metric, higher_is_better=True, verb="beats", negated="does not beat")


def faster(a: Entry, b: Entry, metric: CostMetric = "latency_ms_b1") -> Claim:
    """Whether ``a`` is faster than ``b`` on a timing metric beyond the spread over seeds.

    Lower is faster for latency, train and epoch seconds; higher is faster for throughput. The
    claim holds iff the improvement of ``a`` over ``b`` exceeds ``max(std(a), std(b))``.

    Args:
        a: The entry the claim is about.
        b: The entry it is compared against.
        metric: ``latency_ms_b1``, ``throughput_b32``, ``train_seconds`` or ``epoch_seconds``.

    Returns:
        The claim; ``diff`` is positive when ``a`` is faster.

    Raises:
        ConfigError: ``metric`` is not a timing metric, or an entry has no ``epoch_seconds``.
    """
    if metric not in _LOWER_IS_FASTER:
        raise ConfigError(f"faster compares timing metrics {tuple(_LOWER_IS_FASTER)}, not "
                          f"{metric!r}; use beats() for quality")
    return _claim(a, b, metric, higher_is_better=not _LOWER_IS_FASTER[metric],
                  verb="is faster than", negated="is not faster than")

"""Aggregation over seeds and the claim rule."""

from __future__ import annotations

import math
from typing import Callable

import pytest

from zhijian_core.compare.stats import Entry, aggregate, beats, faster, format_number
from zhijian_core.errors import ConfigError
from zhijian_core.train.result import RunResult

MakeRun = Callable[..., RunResult]


def _entry(make_run: MakeRun, name: str, f1: list[float], latency: list[float] | None = None) -> Entry:
    latency = latency or [10.0] * len(f1)
    runs = [make_run(name, v, seed=s, latency_ms=lat) for s, (v, lat) in enumerate(zip(f1, latency))]
    (entry,) = aggregate(runs)
    return entry


def test_mean_and_sample_std_over_seeds(run: MakeRun) -> None:
    runs = [
        run("lora", 0.70, seed=0, latency_ms=10.0, epoch_seconds=2.0, trainable=10, total=40),
        run("lora", 0.80, seed=1, latency_ms=14.0, epoch_seconds=4.0, trainable=10, total=40),
        run("lora", 0.90, seed=2, latency_ms=12.0, epoch_seconds=None, trainable=10, total=40),
        run("ncm", 0.60, seed=0, family="training_free", trainable=0, epoch_seconds=None),
    ]
    lora, ncm = aggregate(runs)
    assert (lora.name, lora.n_seeds, lora.seeds) == ("lora", 3, [0, 1, 2])
    assert lora.macro_f1.mean == pytest.approx(0.8)
    assert lora.macro_f1.std == pytest.approx(0.1)  # ddof=1: sqrt((.01 + 0 + .01) / 2)
    assert lora.latency_ms_b1.mean == pytest.approx(12.0)
    assert lora.latency_ms_b1.std == pytest.approx(2.0)
    assert lora.epoch_seconds is not None
    assert lora.epoch_seconds.mean == pytest.approx(3.0)  # runs without an epoch time left out
    assert lora.epoch_seconds.std == pytest.approx(math.sqrt(2.0))
    assert (lora.trainable_params, lora.total_params, lora.trainable_fraction) == (10, 40, 0.25)
    assert (ncm.family, ncm.n_seeds, ncm.macro_f1.std, ncm.epoch_seconds) == ("training_free", 1, 0.0, None)


def test_groups_by_display_label(run: MakeRun) -> None:
    runs = [run("ncm", 0.5, label="ncm@16shot"), run("ncm", 0.7, label="ncm@full")]
    assert [e.name for e in aggregate(runs)] == ["ncm@16shot", "ncm@full"]


def test_refuses_repeated_seed_and_mixed_groups(run: MakeRun) -> None:
    with pytest.raises(ConfigError, match="repeat a seed"):
        aggregate([run("lora", 0.5), run("lora", 0.6)])
    with pytest.raises(ConfigError, match="differ in ptm"):
        aggregate([run("lora", 0.5), run("lora", 0.6, seed=1, ptm="minilm-l3")])
    with pytest.raises(ConfigError, match="no runs"):
        aggregate([])


def test_beats_holds_when_difference_exceeds_larger_std(run: MakeRun) -> None:
    a = _entry(run, "lora", [0.777, 0.781, 0.785])  # std 0.004
    b = _entry(run, "tfidf_logreg", [0.715, 0.717, 0.719])  # std 0.002
    claim = beats(a, b)
    assert claim.holds
    assert claim.diff == pytest.approx(0.064)
    assert claim.threshold == pytest.approx(0.004)
    assert claim.text == ("lora beats tfidf_logreg on macro_f1: 0.781±0.004 vs 0.717±0.002 "
                          "(diff 0.064 > 0.004)")
    reverse = beats(b, a)
    assert not reverse.holds
    assert reverse.text.startswith("tfidf_logreg does not beat lora on macro_f1")


def test_beats_fails_within_the_spread(run: MakeRun) -> None:
    a = _entry(run, "a", [0.70, 0.80, 0.90])  # mean .8, std .1
    b = _entry(run, "b", [0.74, 0.75, 0.76])  # mean .75, std .01
    assert not beats(a, b).holds


def test_beats_equal_to_the_std_is_not_enough(run: MakeRun) -> None:
    # Exact binary fractions: diff 0.25 == std 0.25, and the rule is strict.
    a = _entry(run, "a", [0.5, 0.75, 1.0])  # mean .75, std .25
    b = _entry(run, "b", [0.5])  # mean .5, std 0
    claim = beats(a, b)
    assert claim.diff == claim.threshold == 0.25
    assert not claim.holds
    assert "(diff 0.250 <= 0.250)" in claim.text


def test_single_seed_any_positive_difference_holds(run: MakeRun) -> None:
    assert beats(_entry(run, "a", [0.501]), _entry(run, "b", [0.5])).holds
    assert not beats(_entry(run, "a", [0.5]), _entry(run, "b", [0.5])).holds


def test_faster_on_latency_lower_is_better(run: MakeRun) -> None:
    fast = _entry(run, "distill", [0.7, 0.7], latency=[4.0, 6.0])  # 5 ± 1.41
    slow = _entry(run, "full_ft", [0.8, 0.8], latency=[9.0, 11.0])  # 10 ± 1.41
    claim = faster(fast, slow)
    assert claim.holds and claim.diff == pytest.approx(5.0)
    assert claim.text.startswith("distill is faster than full_ft on latency_ms_b1: 5.00±1.41")
    assert not faster(slow, fast).holds
    assert "is not faster than" in faster(slow, fast).text


def test_faster_on_throughput_higher_is_better(run: MakeRun) -> None:
    high = aggregate([run("a", 0.5, throughput=1000.0)])[0]
    low = aggregate([run("b", 0.5, throughput=10.0)])[0]
    assert faster(high, low, metric="throughput_b32").holds
    assert not faster(low, high, metric="throughput_b32").holds


def test_faster_equal_std_edge(run: MakeRun) -> None:
    a = _entry(run, "a", [0.5, 0.5, 0.5], latency=[1.0, 2.0, 3.0])  # 2 ± 1, exactly
    b = _entry(run, "b", [0.5, 0.5, 0.5], latency=[3.0, 3.0, 3.0])  # 3 ± 0
    claim = faster(a, b)
    assert claim.diff == claim.threshold == 1.0
    assert not claim.holds


def test_wrong_metrics_are_refused(run: MakeRun) -> None:
    a = _entry(run, "a", [0.5])
    with pytest.raises(ConfigError, match="faster"):
        beats(a, a, metric="latency_ms_b1")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="beats"):
        faster(a, a, metric="macro_f1")  # type: ignore[arg-type]
    free = aggregate([run("ncm", 0.5, epoch_seconds=None)])[0]
    with pytest.raises(ConfigError, match="no epoch_seconds"):
        faster(free, a, metric="epoch_seconds")


@pytest.mark.parametrize(("value", "text"), [(0.0641, "0.064"), (0.0, "0.000"), (5.0, "5.00"),
                                             (28.8, "28.8"), (1520.4, "1520")])
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text

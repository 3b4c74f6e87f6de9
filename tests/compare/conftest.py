"""Hand-made runs for the comparison tests."""

from __future__ import annotations

from typing import Callable

import pytest

from zhijian_core.train.result import Cost, Quality, RunResult


def make_run(
    method: str,
    macro_f1: float,
    *,
    seed: int = 0,
    family: str = "peft",
    accuracy: float | None = None,
    latency_ms: float = 10.0,
    throughput: float = 100.0,
    trainable: int = 1000,
    total: int = 100_000,
    train_seconds: float = 5.0,
    epoch_seconds: float | None = 2.0,
    peak_memory_mb: float = 50.0,
    label: str | None = None,
    ptm: str = "minilm-l6",
    fingerprint: str = "fp0",
) -> RunResult:
    """One run with the given figures and plausible defaults for the rest."""
    acc = macro_f1 + 0.05 if accuracy is None else accuracy
    return RunResult(
        method=method, family=family, ptm=ptm, dataset="toy", seed=seed,
        data_fingerprint=fingerprint,
        quality=Quality(accuracy=acc, macro_f1=macro_f1, per_class={}),
        cost=Cost(trainable_params=trainable, total_params=total, train_seconds=train_seconds,
                  epoch_seconds=epoch_seconds, peak_memory_mb=peak_memory_mb,
                  latency_ms_b1=latency_ms, throughput_b32=throughput),
        config={}, label=label,
    )


@pytest.fixture
def run() -> Callable[..., RunResult]:
    """The :func:`make_run` factory."""
    return make_run


@pytest.fixture
def comparison() -> list[RunResult]:
    """The runs of :func:`sample_runs`."""
    return sample_runs()


def sample_runs() -> list[RunResult]:
    """A realistic comparison on tweets: eight methods and the TF-IDF baseline, three seeds."""
    specs = [
        # name, family, f1, f1 spread, latency ms, trainable, total, epoch s
        ("full_ft", "full", 0.777, 0.006, 9.5, 22_700_000, 22_700_000, 42.0),
        ("lora", "peft", 0.749, 0.008, 9.8, 147_456, 22_860_000, 29.0),
        ("adapter", "peft", 0.742, 0.01, 10.6, 296_000, 23_000_000, 31.0),
        ("linear_probe", "probe", 0.751, 0.003, 8.9, 1_155, 22_701_155, None),
        ("ncm", "training_free", 0.690, 0.004, 8.8, 0, 22_700_000, None),
        ("knn", "training_free", 0.672, 0.005, 9.3, 0, 22_700_000, None),
        ("distill_l3", "distillation", 0.731, 0.009, 4.6, 17_200_000, 17_200_000, 20.0),
        ("partial_top2", "partial", 0.760, 0.007, 9.4, 7_100_000, 22_700_000, 25.0),
        ("tfidf_logreg", "baseline", 0.717, 0.002, 0.38, 30_609, 30_609, None),
    ]
    runs = []
    for seed, wobble in zip((0, 1, 2), (-1.0, 0.0, 1.0)):
        for name, family, f1, spread, lat, trainable, total, epoch in specs:
            runs.append(make_run(
                name, f1 + wobble * spread, seed=seed, family=family,
                latency_ms=lat * (1 + 0.03 * wobble), throughput=32_000 / lat,
                trainable=trainable, total=total, epoch_seconds=epoch,
                train_seconds=(epoch or 1.0) * 2, ptm="none" if family == "baseline" else "minilm-l6",
            ))
    return runs

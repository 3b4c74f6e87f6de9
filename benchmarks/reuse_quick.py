"""The quick variant of a benchmark recipe: one seed, small splits, one epoch, every method.

It runs every method of the recipe (so every code path and every claim's plumbing runs end to
end), but on few examples: its figures show that the benchmark works, not how methods rank.
"""

from __future__ import annotations

from typing import Any

from zhijian_core.experiment.config import ExperimentConfig, RunSpec
from zhijian_core.methods.registry import get_method_class

QUICK_DATA = {"train_size": 200, "val_size": 100, "test_size": 200}
"""Split sizes of a quick run (a run's own ``train_size: null``, few-shot runs, is kept)."""
QUICK_EPOCHS = 1
"""Training epochs of every method that trains through the backbone, in a quick run."""
QUICK_CAPS = {"transfer_size": 200, "fisher_examples": 16, "selection_steps": 100,
              "attention_examples": 4}
"""Upper bounds on method settings whose cost grows with them."""


def describe() -> str:
    """One line saying what a quick run changes, for its output."""
    sizes = ", ".join(f"{k} {v}" for k, v in QUICK_DATA.items())
    return (f"QUICK run: 1 seed, {sizes}, {QUICK_EPOCHS} epoch per method that trains through the backbone, "
            f"caps {QUICK_CAPS}; every method of the recipe runs. Its figures check the "
            "benchmark end to end; they do not rank the methods (run without --quick for that).")


def _capped(config: dict[str, Any]) -> dict[str, Any]:
    return {key: min(value, QUICK_CAPS[key]) if key in QUICK_CAPS and isinstance(value, int)
            else value for key, value in config.items()}


def _quick_spec(spec: RunSpec) -> RunSpec:
    # Heads on cached frozen features train in seconds: they keep their epochs.
    cached = get_method_class(spec.method).frozen_backbone
    train = spec.train if cached else {**spec.train, "epochs": QUICK_EPOCHS}
    return spec.model_copy(update={"train": train, "config": _capped(spec.config)})


def quick_config(config: ExperimentConfig) -> ExperimentConfig:
    """``config`` with one seed, :data:`QUICK_DATA` splits, one epoch and capped settings."""
    return config.model_copy(update={
        "seeds": [config.seeds[0]],
        "data": config.data.model_copy(update=QUICK_DATA),
        "methods": [_quick_spec(spec) for spec in config.methods],
        "name": f"{config.name}-quick",
    })

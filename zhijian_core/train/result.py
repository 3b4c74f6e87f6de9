"""What one run reports: quality on the test split and cost, as plain JSON-able models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Quality(_Record):
    """Quality of a model on a labelled split."""

    accuracy: float
    """Fraction of examples classified correctly."""
    macro_f1: float
    """Unweighted mean of the per-class F1 scores."""
    per_class: dict[str, dict[str, float]]
    """Per-class precision, recall, F1 and support, by class name."""


class Cost(_Record):
    """What a run cost to train and what its finalized model costs to serve."""

    trainable_params: int
    """Parameters updated by training (0 for training-free methods)."""
    total_params: int
    """Parameters of the finalized model."""
    train_seconds: float
    """Wall time of fitting (training, or the closed-form fit), excluding data loading of the PTM."""
    epoch_seconds: float | None
    """Median wall time of one training epoch (``None`` without gradient training)."""
    peak_memory_mb: float
    """Peak extra resident memory during fitting (CPU) or peak allocated GPU memory (CUDA)."""
    latency_ms_b1: float
    """Median latency of the finalized model at batch size 1 (ms)."""
    throughput_b32: float
    """Examples per second of the finalized model at batch size 32."""


class RunResult(_Record):
    """One method run on one PTM, dataset and seed.

    Attributes mirror the leaderboard's columns; ``run_id`` points to the stored run (MLflow).
    """

    method: str
    family: str
    ptm: str
    dataset: str
    seed: int
    data_fingerprint: str
    quality: Quality
    val_quality: Quality | None = None
    cost: Cost
    config: dict
    train_config: dict | None = None
    run_id: str | None = None
    label: str | None = None
    """Display name in a leaderboard (defaults to the method name; e.g. ``ncm@16shot``)."""
    data_config: dict | None = None
    """The ``DataConfig`` the splits were drawn with (rebuilds the test split for a bundle's own
    evaluation); ``None`` in results written before it was recorded."""
    ptm_digest: str | None = None
    """SHA-256 of the PTM weights the run started from (bundle lineage)."""

    @property
    def display(self) -> str:
        """The name shown in leaderboards."""
        return self.label or self.method

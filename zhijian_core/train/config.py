"""The training protocol's settings: one typed config, defaults that a method may override."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, NonNegativeFloat, PositiveFloat, PositiveInt


class TrainConfig(BaseModel):
    """Hyper-parameters of the one trainer (AdamW or SGD, warm-up then cosine, early stopping)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    optimizer: Literal["adamw", "sgd"] = "adamw"
    """Optimiser: AdamW (decoupled weight decay) or SGD with momentum."""
    lr: PositiveFloat = 5e-5
    """Peak learning rate, reached at the end of warm-up."""
    weight_decay: NonNegativeFloat = 0.01
    """Weight decay (decoupled for AdamW); not applied to biases and normalisation weights."""
    momentum: NonNegativeFloat = 0.9
    """Momentum for SGD."""
    epochs: PositiveInt = 3
    """Maximum number of passes over the training data."""
    batch_size: PositiveInt = 32
    """Examples per optimisation step."""
    warmup_ratio: NonNegativeFloat = 0.1
    """Fraction of all steps spent warming the learning rate up linearly from zero."""
    schedule: Literal["cosine", "constant"] = "cosine"
    """Learning-rate schedule after warm-up."""
    grad_clip: PositiveFloat | None = 1.0
    """Maximum global gradient norm; ``None`` disables clipping."""
    patience: PositiveInt | None = None
    """Stop after this many evaluations without a validation improvement; ``None``: never early."""
    selection_metric: Literal["macro_f1", "accuracy"] = "macro_f1"
    """Validation metric used for model selection and early stopping."""
    mixed_precision: Literal["auto", "off", "bf16", "fp16"] = "auto"
    """Autocast on CUDA (``auto``: bf16 where supported, else fp16); always off on the CPU."""
    eval_batch_size: PositiveInt = 64
    """Batch size for validation, test and feature extraction."""
    max_steps: PositiveInt | None = None
    """Stop after this many optimisation steps (smoke tests); ``None``: run all epochs."""

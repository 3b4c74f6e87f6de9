"""Which data to load and how to split it: one typed, strict config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator


class DataConfig(BaseModel):
    """The dataset to load and the sizes and seed of its train / validation / test split."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(min_length=1)
    """A named dataset (``airline-tweets``, ``fashion-mnist``) or a path: a ``.csv`` or ``.jsonl``
    file, an image folder ``root/<class>/<images>``, or an idx images file
    (``*-images-idx3-ubyte[.gz]`` with its labels file beside it). A name wins over a same-named path."""
    text_column: str = Field(default="text", min_length=1)
    """Column (CSV) or key (JSONL) holding the text; only for CSV and JSONL files."""
    label_column: str = Field(default="label", min_length=1)
    """Column (CSV) or key (JSONL) holding the label (strings or integers); only for CSV and JSONL."""
    val_size: NonNegativeInt = 500
    """Number of validation examples, drawn after the test examples."""
    test_size: PositiveInt = 2000
    """Number of test examples, drawn first (from the official test examples when the source has them)."""
    train_size: PositiveInt | None = None
    """Number of training examples drawn from what test and validation left; ``None``: all of it."""
    shots: PositiveInt | None = None
    """Few-shot: draw exactly this many training examples per class instead of ``train_size``."""
    seed: NonNegativeInt = 0
    """Seed of the split (a numpy ``Generator``): the same seed and data give the same split."""

    @model_validator(mode="after")
    def _check_train_selection(self) -> "DataConfig":
        if self.train_size is not None and self.shots is not None:
            raise ValueError(
                f"train_size ({self.train_size}) and shots ({self.shots}) both set; set train_size for a "
                f"fixed number of training examples or shots for K per class, not both")
        return self

"""The experiment (recipe) schema: a PTM, a dataset, methods with hyper-parameters, seeds.

Recipes are YAML files (see ``recipes/``) validated strictly: an unknown key anywhere is an error,
and every problem is reported at once with where it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from zhijian_core.data.config import DataConfig
from zhijian_core.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PreprocessOverrides(_Strict):
    """Task-level changes to the PTM's own preprocessing."""

    max_length: PositiveInt | None = None
    """Maximum tokens per text (the PTM's default otherwise)."""
    image_size: PositiveInt | None = None
    """Square input side for images: resize the shorter side to it, then centre-crop it."""


class RunSpec(_Strict):
    """One method to run in an experiment."""

    method: str
    """Registered method name (``zhijian methods`` lists them)."""
    ptm: str | None = None
    """Source PTM of this run only (the experiment's ``ptm`` otherwise)."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The method's own config (validated by the method)."""
    train: dict[str, Any] = Field(default_factory=dict)
    """Training hyper-parameters over the method's defaults (keys of ``TrainConfig``)."""
    data: dict[str, Any] = Field(default_factory=dict)
    """Changes to the experiment's data config for this run only (for example ``shots: 16``)."""
    label: str | None = None
    """Name in the leaderboard and in ``run:<label>`` references (defaults to the method name)."""

    @property
    def display(self) -> str:
        """The leaderboard name of this run."""
        return self.label or self.method


class ExperimentConfig(_Strict):
    """A comparison of reuse methods on one PTM and dataset."""

    name: str = "zhijian"
    """Experiment name (the MLflow experiment runs are stored under)."""
    ptm: str
    """PTM spec of the source model (``minilm-l6``, ``timm:<name>``, ``hf:<dir>`` ...)."""
    data: DataConfig
    """Dataset and split sizes; its seed is replaced by each run's seed."""
    preprocess: PreprocessOverrides = Field(default_factory=PreprocessOverrides)
    """Changes to the PTM's preprocessing for this task."""
    methods: list[RunSpec] = Field(min_length=1)
    """Methods to run, in order (a run may reference an earlier one as ``run:<label>``)."""
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    """Seeds; every figure is a mean with its spread over them."""
    baseline: bool = True
    """Also run the non-PTM baseline of the task (TF-IDF or raw pixels) on every data config."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda[:i]``."""

    @model_validator(mode="after")
    def _unique_labels(self) -> "ExperimentConfig":
        labels = [spec.display for spec in self.methods]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"run labels must be unique, repeated: {repeated}; set `label:`")
        return self


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '<top>'}: {err['msg']}"
                     for err in exc.errors())


def parse_experiment(data: dict[str, Any], source: str) -> ExperimentConfig:
    """Validate a recipe mapping; ``source`` names it in error messages."""
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid recipe {source}: {_problems(exc)}") from exc


def load_recipe(path: Path) -> ExperimentConfig:
    """Read and validate a YAML recipe."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"recipe not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"recipe {path} must be a mapping with ptm, data and methods")
    return parse_experiment(data, str(path))

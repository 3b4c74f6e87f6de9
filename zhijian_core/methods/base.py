"""The reuse-method extension point: a typed config plus a behaviour, in one of three families.

ZhiJian's taxonomy (Zhang et al., "ZhiJian: A Unifying and Rapidly Deployable Toolbox for
Pre-trained Model Reuse", 2023):

* **Architect**: build the target from the PTM (probing, partial tuning, LoRA, adapters, grafting);
* **Tuner**: train the target with the PTM's knowledge (distillation, regularizers);
* **Merger**: infer with the PTM(s) (nearest class mean, ensembles, soups, weight merging).

A method prepares the target model, declares which parameters train (``requires_grad``), may change
the loss and the training data, and finalizes to one plain ``nn.Module`` in eval mode that maps a
batch of named tensors to logits. Everything downstream sees only that module.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, ClassVar, Literal, Mapping

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from torch import Tensor, nn

from zhijian_core.data.dataset import Dataset, Splits
from zhijian_core.errors import NotApplicableError
from zhijian_core.model import ArchitectureConfig, ReuseClassifier
from zhijian_core.ptm.backbone import BACKBONE_KINDS, BackboneKind, freeze, unfreeze
from zhijian_core.ptm.loaded import LoadedPTM


class Family(str, Enum):
    """ZhiJian's three families of reuse methods."""

    ARCHITECT = "architect"
    TUNER = "tuner"
    MERGER = "merger"


class MethodConfig(BaseModel):
    """Base of every method's config: strict (unknown keys are errors) and frozen.

    The docstring under each field becomes its description (shown in the docs and JSON schema).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class NormStatisticsConfig(MethodConfig):
    """Config of a method that trains batch norms' gains or shifts over frozen weights."""

    norm_statistics: Literal["source", "task"] = "source"
    """Batch norms' running statistics while training: the PTM's (``source``), or re-estimated on
    the task's batches (``task``, as when training BatchNorm alone from scratch)."""


@dataclass
class MethodContext:
    """What a method may use while it builds and fits its target.

    Attributes:
        ptm: The PTM of the comparison (the source model).
        splits: The deterministic data splits (train, val, test, rest).
        num_classes: Number of classes of the task.
        device: Device training runs on.
        seed: Seed of this run.
        load_model: Resolves a model reference (``run:<id or method name>`` or a PTM spec) to a
            finalized classifier and its PTM; used for teachers.
        load_ptm: Loads a PTM by spec string (students, extra sources).
        encode: Returns cached pooled features ``(N, D)`` of a dataset through a frozen backbone.
        logits_of: Returns a finalized model's logits ``(N, C)`` on a dataset (teacher labelling).
    """

    ptm: LoadedPTM
    splits: Splits
    num_classes: int
    device: torch.device
    seed: int
    load_model: Callable[[str], tuple[nn.Module, LoadedPTM]]
    load_ptm: Callable[[str], LoadedPTM]
    encode: Callable[[LoadedPTM, Dataset], Tensor]
    logits_of: Callable[[nn.Module, LoadedPTM, Dataset], Tensor]
    extras: dict[str, Any] = field(default_factory=dict)
    tensors: Callable[[LoadedPTM, Dataset], Mapping[str, Tensor]] | None = None
    """Returns a dataset preprocessed for a PTM as its named input tensors ``(N, ...)`` (for
    gradients through a whole model outside training, as Fisher merging needs); ``None``: none."""
    task_splits: Callable[[str], Splits] | None = None
    """Returns the splits of another dataset (by name) drawn with this run's sizes and seed (the
    other tasks of a multi-task setting); ``None``: none."""


class ReuseMethod(ABC):
    """A reuse method. Subclasses set the class attributes and implement ``build`` and ``finalize``.

    Class attributes:
        name: Registry key (snake_case), also the folder and test-file name.
        family: Its ZhiJian family.
        paper: The paper it implements, cited as "Authors, Title, Venue Year".
        config_class: Its typed config.
        applies_to: Backbone kinds it applies to.
        trains: Whether it runs gradient training (``False``: fitted in closed form).
        frozen_backbone: Whether the backbone stays frozen, so the trainer may cache its features.
        default_train: Training hyper-parameters this method needs other than the trainer defaults.
    """

    name: ClassVar[str]
    family: ClassVar[Family]
    paper: ClassVar[str]
    config_class: ClassVar[type[MethodConfig]]
    applies_to: ClassVar[frozenset[BackboneKind]] = frozenset(BACKBONE_KINDS)
    trains: ClassVar[bool] = True
    frozen_backbone: ClassVar[bool] = False
    default_train: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, config: MethodConfig) -> None:
        if not isinstance(config, self.config_class):
            raise TypeError(f"{self.name} takes a {self.config_class.__name__}, "
                            f"not a {type(config).__name__}")
        self.config = config

    def check_applicable(self, ptm: LoadedPTM) -> None:
        """Raise :class:`NotApplicableError` when this method does not apply to ``ptm``'s backbone."""
        kind = ptm.backbone.kind
        if kind not in self.applies_to:
            raise NotApplicableError(
                f"method '{self.name}' does not apply to {ptm.spec} (a {kind} backbone); it needs "
                f"a {' or '.join(sorted(self.applies_to))} backbone")

    def keeps_norm_statistics(self) -> bool:
        """Whether every batch norm keeps the PTM's running statistics during training.

        ``False`` (the default): a batch norm re-estimates them on the task when it has a parameter
        that trains, and keeps them when it is frozen. Methods that train a batch norm's gain or
        shift over frozen weights (BitFit, norm tuning: a :class:`NormStatisticsConfig`) keep them
        unless their ``norm_statistics`` is ``task``: measured on Fashion-MNIST with
        EfficientNet-Lite0 (1,600 images, seed 0), re-estimating them cost BitFit 14 and norm
        tuning 12 points of macro-F1, below a linear probe on the frozen features.
        """
        return (isinstance(self.config, NormStatisticsConfig)
                and self.config.norm_statistics == "source")

    def target_ptm(self, ctx: MethodContext) -> LoadedPTM:
        """The PTM whose preprocessing and skeleton the target uses (a student's for distillation)."""
        return ctx.ptm

    @abstractmethod
    def build(self, ctx: MethodContext) -> nn.Module:
        """Return the target model, with ``requires_grad`` set on exactly the parameters that train."""

    def frozen_features(self, ctx: MethodContext, dataset: Dataset) -> Tensor:
        """Features ``(N, D)`` the head of a ``frozen_backbone`` method trains on, computed once per
        split: the frozen target backbone's pooled features (cached by ``ctx.encode``) unless the
        method reads other features (Head2Toe: its selection over every block)."""
        return ctx.encode(self.target_ptm(ctx), dataset)

    def training_data(self, ctx: MethodContext) -> Dataset:
        """The examples to train on (the train split unless the method adds a transfer set)."""
        return ctx.splits.train

    def prepare(self, model: nn.Module, ctx: MethodContext) -> None:
        """Hook run after ``build`` and before training (teacher set-up, closed-form fits)."""

    def loss(self, model: nn.Module, batch: Mapping[str, Tensor], labels: Tensor,
             indices: Tensor) -> Tensor:
        """Training loss on one batch; ``indices`` index the batch into ``training_data``."""
        return F.cross_entropy(model(batch), labels)

    def finalize(self, model: nn.Module) -> nn.Module:
        """Return one plain module in eval mode that maps a batch to logits (here: ``model``)."""
        return model.eval()

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The JSON-able description the finalized module is rebuilt from (target PTM + head)."""
        return ArchitectureConfig(ptm=self.target_ptm(ctx).spec, num_classes=ctx.num_classes)


def trainable_copy(ptm: LoadedPTM, num_classes: int) -> ReuseClassifier:
    """A classifier on a copy of ``ptm``'s backbone in which everything trains but the PTM's own
    source classifier (not on the feature path: it would get no gradient).

    A copy, because loaded PTMs are shared by the runs of an experiment (and cached across seeds).
    """
    model = ReuseClassifier(copy.deepcopy(ptm.backbone), num_classes)
    unfreeze(model)
    source_classifier = model.backbone.source_classifier()
    if source_classifier is not None:
        freeze(source_classifier)
    return model

"""Helpers of the Architect methods that add, select or remove parts of the PTM's structure."""

from __future__ import annotations

import copy
from typing import Callable, TypeVar

from torch import nn

from zhijian_core.errors import NotApplicableError, PTMError
from zhijian_core.model import ArchitectureConfig, ReuseClassifier, build_classifier
from zhijian_core.ptm.backbone import freeze
from zhijian_core.ptm.loaded import LoadedPTM

T = TypeVar("T")

NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.LayerNorm, nn.GroupNorm, nn.RMSNorm, nn.modules.batchnorm._BatchNorm)
"""Normalisation layers (their affine parameters are what LayerNorm/BatchNorm tuning trains)."""


def capability(method: str, ptm: LoadedPTM, needs: str, call: Callable[[], T]) -> T:
    """Run ``call``; a backbone lacking a capability (:class:`PTMError`) becomes the method's
    :class:`NotApplicableError`, naming the method, the PTM and what is missing.

    Args:
        method: The method's name.
        ptm: The PTM whose backbone is asked.
        needs: What the method needs, e.g. "transformer blocks with attention and MLP sublayers".
        call: Asks the backbone (for example ``ptm.backbone.sublayer_projections``).
    """
    try:
        return call()
    except PTMError as exc:
        raise NotApplicableError(
            f"method '{method}' does not apply to {ptm.spec} (a {ptm.backbone.kind} backbone): it "
            f"needs {needs}, which {type(ptm.backbone).__name__} lacks") from exc


def frozen_target(ptm: LoadedPTM, architecture: ArchitectureConfig) -> ReuseClassifier:
    """The classifier ``architecture`` describes, on a copy of ``ptm``'s pre-trained backbone,
    with every parameter frozen (the method then unfreezes what trains).

    A copy, because loaded PTMs are shared by the runs of an experiment.
    """
    model = build_classifier(architecture, copy.deepcopy(ptm.backbone))
    freeze(model)
    return model


def unfreeze_named(model: nn.Module, keep: Callable[[str, nn.Parameter], bool]) -> None:
    """Let the parameters of ``model`` for which ``keep(name, parameter)`` holds train."""
    for name, param in model.named_parameters():
        if keep(name, param):
            param.requires_grad_(True)

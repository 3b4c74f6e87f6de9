"""Rebuild any finalized module from its stored architecture JSON: classifier, kNN or ensemble.

``ArchitectureConfig`` describes a backbone plus a linear head. Two Merger methods finalize to
other plain modules and describe them with subclasses carrying a ``module`` field:
:class:`~zhijian_core.methods.knn.module.KNNArchitecture` (``"knn"``) and
:class:`~zhijian_core.methods.logit_ensemble.module.EnsembleArchitecture` (``"ensemble"``). These
two functions read any of the three and rebuild the module, ready for its safetensors weights; a
run store calls them in place of ``ArchitectureConfig.model_validate_json`` and
``build_classifier``.
"""

from __future__ import annotations

import json
from typing import Callable

from torch import nn

from zhijian_core.errors import ConfigError
from zhijian_core.methods.knn.module import KNNArchitecture, rebuild_knn
from zhijian_core.methods.logit_ensemble.module import EnsembleArchitecture, rebuild_ensemble
from zhijian_core.model import ArchitectureConfig, build_classifier
from zhijian_core.ptm.backbone import Backbone

MODULE_KINDS: dict[str, type[ArchitectureConfig]] = {
    "knn": KNNArchitecture,
    "ensemble": EnsembleArchitecture,
}
"""Architecture classes of the module kinds other than a classifier, by their ``module`` field."""


def read_architecture(text: str) -> ArchitectureConfig:
    """Parse stored architecture JSON into the class its ``module`` field names (a classifier's
    ``ArchitectureConfig`` when it has none).

    Raises:
        ConfigError: An unknown ``module`` kind.
    """
    kind = json.loads(text).get("module")
    if kind is None:
        return ArchitectureConfig.model_validate_json(text)
    if kind not in MODULE_KINDS:
        raise ConfigError(f"unknown module kind {kind!r} in a stored architecture; known: "
                          f"{', '.join(MODULE_KINDS)}")
    return MODULE_KINDS[kind].model_validate_json(text)


def rebuild_module(architecture: ArchitectureConfig,
                   load_backbone: Callable[[str], Backbone]) -> nn.Module:
    """The empty module ``architecture`` describes (load its weights next).

    Args:
        architecture: As returned by :func:`read_architecture` (or a method's ``architecture()``).
        load_backbone: A fresh random-init skeleton backbone for a PTM spec.
    """
    if isinstance(architecture, KNNArchitecture):
        return rebuild_knn(architecture, load_backbone(architecture.ptm))
    if isinstance(architecture, EnsembleArchitecture):
        return rebuild_ensemble(architecture, load_backbone)
    return build_classifier(architecture, load_backbone(architecture.ptm))

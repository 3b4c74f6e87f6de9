"""Logit ensembles of runs or PTMs, folded into one module."""

from __future__ import annotations

import copy

from torch import nn

from zhijian_core.errors import MethodError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.ingredients import resolve
from zhijian_core.methods.logit_ensemble.config import LogitEnsembleConfig
from zhijian_core.methods.logit_ensemble.module import EnsembleArchitecture, EnsembleClassifier
from zhijian_core.methods.registry import register
from zhijian_core.model import ArchitectureConfig, ReuseClassifier, build_classifier
from zhijian_core.ptm.backbone import freeze


def _shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


@register
class LogitEnsemble(ReuseMethod):
    """Average the predictions of several models of this task (runs, or PTMs' NCM classifiers).

    Paper: Dietterich, "Ensemble Methods in Machine Learning", Multiple Classifier Systems (MCS)
    2000; averaging predictive distributions as in Lakshminarayanan, Pritzel & Blundell, "Simple
    and Scalable Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS 2017. The members
    may be different PTMs as long as they read the same input tensors; a private copy of each is
    kept inside one module, so the export is one graph running every member.
    """

    name = "logit_ensemble"
    family = Family.MERGER
    paper = ('Dietterich, "Ensemble Methods in Machine Learning", Multiple Classifier Systems '
             '2000; Lakshminarayanan, Pritzel & Blundell, "Simple and Scalable Predictive '
             'Uncertainty Estimation using Deep Ensembles", NeurIPS 2017')
    config_class = LogitEnsembleConfig
    trains = False
    config: LogitEnsembleConfig

    def __init__(self, config: LogitEnsembleConfig) -> None:
        super().__init__(config)
        self._members: list[ArchitectureConfig] = []

    def build(self, ctx: MethodContext) -> nn.Module:
        """The ensemble of private, frozen copies of the members."""
        self.check_applicable(ctx.ptm)
        members, self._members = [], []
        for ing in resolve(ctx, self.name, self.config.ingredients):
            model = ing.model
            if not isinstance(model, ReuseClassifier):
                raise MethodError(f"method '{self.name}': member '{ing.reference}' is a "
                                  f"{type(model).__name__}; members must be classifiers with a "
                                  "backbone and a linear head")
            if model.num_classes != ctx.num_classes:
                raise MethodError(f"method '{self.name}': member '{ing.reference}' has "
                                  f"{model.num_classes} classes but this task has "
                                  f"{ctx.num_classes}; ensemble models of this task")
            architecture = ArchitectureConfig(ptm=ing.ptm.spec, num_classes=ctx.num_classes,
                                              feature_norm=model.feature_norm)
            skeleton = build_classifier(architecture, copy.deepcopy(ing.ptm.backbone))
            if _shapes(skeleton) != _shapes(model):
                raise MethodError(
                    f"method '{self.name}': member '{ing.reference}' changes the structure of "
                    f"{ing.ptm.spec} (inserted modules, kept blocks or selected features), which "
                    "an ensemble cannot describe yet; use members that are a PTM plus a head")
            members.append(copy.deepcopy(model))
            self._members.append(architecture)
        ensemble = EnsembleClassifier(members, self.config.combine)
        freeze(ensemble)
        return ensemble.eval()

    def finalize(self, model: nn.Module) -> nn.Module:
        """The ensemble itself, in eval mode."""
        return model.eval()

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The target PTM (whose preprocessing feeds every member) and the members' architectures."""
        return EnsembleArchitecture(ptm=ctx.ptm.spec, num_classes=ctx.num_classes,
                                    members=self._members, combine=self.config.combine)

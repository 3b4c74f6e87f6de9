"""Logit ensembles: average several models' logits or probabilities in one module."""

from zhijian_core.methods.logit_ensemble.config import LogitEnsembleConfig
from zhijian_core.methods.logit_ensemble.method import LogitEnsemble
from zhijian_core.methods.logit_ensemble.module import (EnsembleArchitecture, EnsembleClassifier,
                                                        rebuild_ensemble)

__all__ = ["EnsembleArchitecture", "EnsembleClassifier", "LogitEnsemble", "LogitEnsembleConfig",
           "rebuild_ensemble"]

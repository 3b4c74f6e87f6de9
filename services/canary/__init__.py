"""The automatic canary controller (docs/serving.md, "Automatic canary decisions").

A single-replica Serve deployment compares each served model's canary with its production over a
sliding window (error ratio, p95 latency, cost per 1,000 inferences, agreement with production)
and rolls a breaching canary back to 0% through the registry's promotion code, audited with the
evidence; it can promote a canary whose checks have passed long enough (opt-in). The decision is
pure (:mod:`services.canary.evaluate`); the windows come from this node's metric files
(:class:`NodeSource`) or from Prometheus (:class:`PrometheusSource`).
"""

from services.canary.config import CanaryConfig
from services.canary.controller import ACTOR, CanaryController, Evaluation
from services.canary.evaluate import ArmStats, CheckResult, Verdict, decide, evaluate
from services.canary.node import NodeSource
from services.canary.prometheus import PrometheusSource
from services.canary.source import MetricsSource, MetricsSourceError, Window
from services.canary.window import Totals, bucket_quantile

__all__ = ["ACTOR", "ArmStats", "CanaryConfig", "CanaryController", "CheckResult", "Evaluation",
           "MetricsSource", "MetricsSourceError", "NodeSource", "PrometheusSource", "Totals",
           "Verdict", "Window", "bucket_quantile", "decide", "evaluate"]

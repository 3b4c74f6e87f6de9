"""The model registry (MLflow Model Registry) and promotion, torch-free.

Register verified bundles as model versions, resolve a name and alias to a verified local bundle,
and move aliases (``production``, ``canary`` with its traffic percent, ``shadow``, team aliases)
through gated, audited, crash-safe promotions; take a canary out of traffic the same way. MLflow is
imported when a :class:`Registry` is made.
"""

from zhijian_core.registry.audit import AuditRecord
from zhijian_core.registry.client import ModelInfo, Registry, ResolvedBundle, VersionInfo
from zhijian_core.registry.gates import CanaryEvidence, GatePolicy, GateResult
from zhijian_core.registry.promotion import (Decision, DoctorReport, abort_canary, doctor, history,
                                             promote, rollback)

__all__ = ["AuditRecord", "CanaryEvidence", "Decision", "DoctorReport", "GatePolicy", "GateResult",
           "ModelInfo", "Registry", "ResolvedBundle", "VersionInfo", "abort_canary", "doctor",
           "history", "promote", "rollback"]

"""Promotion gates: pure checks of a candidate bundle's evidence, each reported with its numbers.

For every alias: the bundle's digests (checked when it is resolved), parity passed, and the bundle's
own evaluation present. For ``production`` additionally: parity measured where it matters (an fp16
bundle's parity is unverified without a GPU), quality (macro-F1) not below the current production
version's beyond a tolerance when both were evaluated on the same dataset fingerprint, and, when the
version served as canary, the canary's measured p95 latency and error ratio. The latency measured at
export is recorded, never a gate.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from zhijian_core.bundle.manifest import Manifest

PRODUCTION = "production"
CANARY = "canary"
SHADOW = "shadow"

GateStatus = Literal["passed", "failed", "skipped"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GateResult(_Frozen):
    """One gate's outcome."""

    name: str
    """Gate name (``parity``, ``evaluation``, ``digests``, ``parity_verified``, ``quality``,
    ``canary``, ``export_latency``)."""
    status: GateStatus
    detail: str
    """What was compared, with the numbers, or why the gate was skipped."""
    values: dict[str, float | str | None] = Field(default_factory=dict)
    """The numbers the gate looked at."""


class CanaryEvidence(_Frozen):
    """What the service measured while the version served as canary."""

    p95_ms: float = Field(ge=0)
    """95th percentile end-to-end latency, in milliseconds."""
    error_ratio: float = Field(ge=0, le=1)
    """Failed requests over all requests."""
    requests: int = Field(ge=0)
    """Requests the canary served."""


class GatePolicy(_Frozen):
    """Thresholds of the gates."""

    quality_tolerance: float = Field(0.01, ge=0)
    """Largest macro-F1 loss (absolute, 0-1 scale) against the current production version."""
    canary_max_p95_ms: float = Field(250.0, gt=0)
    """Largest canary p95 latency accepted for production."""
    canary_max_error_ratio: float = Field(0.01, ge=0, le=1)
    """Largest canary error ratio accepted for production."""
    canary_min_requests: int = Field(100, ge=0)
    """Fewest canary requests for its measurement to count."""


def parity_gate(manifest: Manifest) -> GateResult:
    """ONNX Runtime matched PyTorch within the tolerance at export."""
    parity = manifest.evidence.parity
    values = {"max_abs_diff": parity.max_abs_diff, "tolerance": parity.tolerance}
    if parity.passed:
        return GateResult(name="parity", status="passed", values=values,
                          detail=f"max abs diff {parity.max_abs_diff:.3g} <= tolerance "
                                 f"{parity.tolerance:.3g}")
    return GateResult(name="parity", status="failed", values=values,
                      detail=f"max abs diff {parity.max_abs_diff:.3g} over tolerance {parity.tolerance:.3g}")


def evaluation_gate(manifest: Manifest) -> GateResult:
    """The bundle evaluated itself (ONNX session + preprocessing on the raw test inputs)."""
    evaluation = manifest.evidence.evaluation
    if evaluation is None:
        return GateResult(name="evaluation", status="failed",
                          detail="the bundle has no evaluation of its own; export it with test data")
    return GateResult(name="evaluation", status="passed",
                      values={"macro_f1": evaluation.macro_f1, "accuracy": evaluation.accuracy,
                              "dataset_fingerprint": evaluation.dataset_fingerprint},
                      detail=f"macro-F1 {evaluation.macro_f1:.4f}, accuracy {evaluation.accuracy:.4f} on "
                             f"{evaluation.examples} examples")


def digests_gate(version: int) -> GateResult:
    """Every file matched its SHA-256 (a mismatch is an error before any gate is reported)."""
    return GateResult(name="digests", status="passed",
                      detail=f"every file of version {version} matches its SHA-256 in the manifest")


def parity_verified_gate(manifest: Manifest) -> GateResult:
    """Parity was measured where it matters (an fp16 bundle needs a GPU measurement)."""
    if manifest.evidence.parity.verified:
        return GateResult(name="parity_verified", status="passed", detail="parity was measured")
    return GateResult(name="parity_verified", status="failed",
                      detail="parity is unverified (an fp16 bundle measured without a GPU); production "
                             "needs a measured parity, or --force with a reason")


def quality_gate(manifest: Manifest, version: int, production_version: int | None,
                 production_tags: dict[str, str] | None, tolerance: float) -> GateResult:
    """Macro-F1 not below the current production version's beyond ``tolerance``, when comparable."""
    evaluation = manifest.evidence.evaluation
    if production_version is None or production_tags is None:
        return GateResult(name="quality", status="skipped", detail="no current production version")
    if production_version == version:
        return GateResult(name="quality", status="skipped",
                          detail=f"version {version} is already production")
    theirs = production_tags.get("zhijian.eval.macro_f1")
    fingerprint = production_tags.get("zhijian.eval.dataset_fingerprint")
    if evaluation is None or theirs is None:
        return GateResult(name="quality", status="skipped",
                          detail="not comparable: one of the two versions has no evaluation")
    if fingerprint != evaluation.dataset_fingerprint:
        return GateResult(name="quality", status="skipped",
                          values={"fingerprint": evaluation.dataset_fingerprint,
                                  "production_fingerprint": fingerprint},
                          detail="not comparable: evaluated on dataset "
                                 f"{evaluation.dataset_fingerprint[:12]}, "
                                 f"production version {production_version} on {str(fingerprint)[:12]}")
    ours, theirs_f = evaluation.macro_f1, float(theirs)
    values = {"macro_f1": ours, "production_macro_f1": theirs_f, "tolerance": tolerance}
    if ours >= theirs_f - tolerance:
        return GateResult(name="quality", status="passed", values=values,
                          detail=f"macro-F1 {ours:.4f} vs production v{production_version} {theirs_f:.4f} "
                                 f"(tolerance {tolerance:g})")
    return GateResult(name="quality", status="failed", values=values,
                      detail=f"macro-F1 {ours:.4f} is below production v{production_version}'s "
                             f"{theirs_f:.4f} by more than {tolerance:g}")


def canary_gate(served_as_canary: bool, evidence: CanaryEvidence | None,
                policy: GatePolicy) -> GateResult:
    """The canary's measured p95 latency and error ratio, when the version served as canary."""
    if not served_as_canary:
        return GateResult(name="canary", status="skipped", detail="the version never served as canary")
    if evidence is None:
        return GateResult(name="canary", status="skipped", detail="no canary measurement")
    values = {"p95_ms": evidence.p95_ms, "error_ratio": evidence.error_ratio,
              "requests": float(evidence.requests), "max_p95_ms": policy.canary_max_p95_ms,
              "max_error_ratio": policy.canary_max_error_ratio}
    if evidence.requests < policy.canary_min_requests:
        return GateResult(name="canary", status="skipped", values=values,
                          detail=f"too few canary requests ({evidence.requests} < "
                                 f"{policy.canary_min_requests}) to judge")
    problems = []
    if evidence.p95_ms > policy.canary_max_p95_ms:
        problems.append(f"p95 {evidence.p95_ms:g} ms > {policy.canary_max_p95_ms:g} ms")
    if evidence.error_ratio > policy.canary_max_error_ratio:
        problems.append(f"error ratio {evidence.error_ratio:.4f} > {policy.canary_max_error_ratio:.4f}")
    if problems:
        return GateResult(name="canary", status="failed", values=values, detail="; ".join(problems))
    return GateResult(name="canary", status="passed", values=values,
                      detail=f"p95 {evidence.p95_ms:g} ms, error ratio {evidence.error_ratio:.4f} over "
                             f"{evidence.requests} requests")


def latency_record(manifest: Manifest) -> GateResult:
    """The latency measured at export: recorded, never a gate."""
    b1 = manifest.evidence.latency_ms_b1
    return GateResult(name="export_latency", status="skipped",
                      values={"latency_ms_b1": b1, "latency_ms_b32": manifest.evidence.latency_ms_b32},
                      detail="recorded only, never a gate" + (f": {b1:g} ms at batch 1" if b1 else ""))


def evaluate_gates(alias: str, version: int, manifest: Manifest, production_version: int | None,
                   production_tags: dict[str, str] | None, served_as_canary: bool,
                   canary: CanaryEvidence | None, policy: GatePolicy) -> list[GateResult]:
    """Every gate for promoting ``version`` (whose verified manifest is ``manifest``) to ``alias``."""
    gates = [digests_gate(version), parity_gate(manifest), evaluation_gate(manifest)]
    if alias == PRODUCTION:
        gates += [parity_verified_gate(manifest),
                  quality_gate(manifest, version, production_version, production_tags,
                               policy.quality_tolerance),
                  canary_gate(served_as_canary, canary, policy)]
    gates.append(latency_record(manifest))
    return gates

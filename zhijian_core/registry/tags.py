"""A manifest's lineage and evidence as flat ``zhijian.``-prefixed string tags of a model version."""

from __future__ import annotations

from zhijian_core.bundle.manifest import Manifest

PREFIX = "zhijian."
CANARY_PERCENT = "zhijian.canary_percent"
"""Registered-model tag holding the canary alias's traffic percent."""
MANIFEST_SHA256 = "zhijian.manifest_sha256"
"""Version tag holding the SHA-256 of the registered ``manifest.json``."""


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def manifest_tags(manifest: Manifest) -> dict[str, str]:
    """Flat string tags of the manifest's lineage and evidence (absent values are left out)."""
    lineage, evidence = manifest.lineage, manifest.evidence
    tags: dict[str, object] = {
        "zhijian.bundle_model_name": lineage.model_name,
        "zhijian.ptm.spec": lineage.ptm.spec,
        "zhijian.ptm.identity": lineage.ptm.identity,
        "zhijian.ptm.digest": lineage.ptm.digest,
        "zhijian.ptm.licence": lineage.ptm.licence,
        "zhijian.method": lineage.method.name,
        "zhijian.method.family": lineage.method.family,
        "zhijian.code_version": lineage.code_version,
        "zhijian.created_at": lineage.created_at,
        "zhijian.source_run_id": lineage.run_id,
        "zhijian.task": manifest.task.kind,
        "zhijian.opset": manifest.opset,
        "zhijian.schema_version": manifest.schema_version,
        "zhijian.parity.max_abs_diff": evidence.parity.max_abs_diff,
        "zhijian.parity.tolerance": evidence.parity.tolerance,
        "zhijian.parity.passed": evidence.parity.passed,
        "zhijian.parity.verified": evidence.parity.verified,
        "zhijian.latency_ms_b1": evidence.latency_ms_b1,
        "zhijian.latency_ms_b32": evidence.latency_ms_b32,
        "zhijian.optimizations": ",".join(o.kind for o in evidence.optimizations if o.applied),
    }
    if lineage.dataset is not None:
        tags["zhijian.dataset.name"] = lineage.dataset.name
        tags["zhijian.dataset.fingerprint"] = lineage.dataset.fingerprint
    if evidence.evaluation is not None:
        tags["zhijian.eval.dataset_fingerprint"] = evidence.evaluation.dataset_fingerprint
        tags["zhijian.eval.examples"] = evidence.evaluation.examples
        tags["zhijian.eval.accuracy"] = evidence.evaluation.accuracy
        tags["zhijian.eval.macro_f1"] = evidence.evaluation.macro_f1
    return {key: _text(value) for key, value in tags.items() if _text(value) != ""}

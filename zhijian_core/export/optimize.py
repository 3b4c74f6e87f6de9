"""Optional optimizations of a bundle's graph, each measured, then kept or refused.

The fp32 export is checked first (parity with PyTorch, the bundle's own evaluation). Each asked-for
optimization is then tried in a fixed order (graph fusion, int8, fp16) on the graph kept so far, and
measured against it: its own test evaluation (quality change in points of macro-F1), the largest
output difference, and its latency at batch 1 and 32 in interleaved runs. It is kept only when it
loses at most ``max_quality_loss`` points and is faster (the geometric mean of the two speedups at
least ``min_speedup``), unless forced; every decision lands in the manifest with its figures.

* graph: transformer encoders (BERT family, timm ViT) through ONNX Runtime's transformer optimizer
  (fused attention); other graphs through the provider-independent BASIC level. Must also stay
  within the export's parity tolerance.
* int8: dynamic per-channel for transformers (on a fused graph: ``QAttention``); static QDQ for
  CNNs, calibrated on at least 256 real training inputs.
* fp16: for GPU bundles. Its speed cannot be measured without a GPU and its parity is marked
  unverified, which the production gate refuses unless forced.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from zhijian_core.bundle.manifest import Evaluation, Optimization
from zhijian_core.errors import ExportError
from zhijian_core.export import transforms
from zhijian_core.export.runtime import cpu_session, interleaved_latency_ms, run_session

OptimizationKind = Literal["graph", "int8", "fp16"]
ORDER: tuple[OptimizationKind, ...] = ("graph", "int8", "fp16")


class OptimizeConfig(BaseModel):
    """Which optimizations an export tries, and the rule that keeps or refuses each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    optimizations: tuple[OptimizationKind, ...] = ()
    """Optimizations to try (applied in the order graph, int8, fp16 whatever the order given)."""
    max_quality_loss: float = Field(1.0, ge=0)
    """Largest accepted loss of the primary metric (macro-F1), in points."""
    min_speedup: float = Field(1.05, gt=0)
    """Least geometric mean of the batch-1 and batch-32 speedups that counts as faster."""
    force: bool = False
    """Keep every optimization that runs, whatever it measures (recorded as forced)."""
    calibration_examples: int = Field(256, ge=256)
    """Real training inputs static int8 is calibrated on."""
    timing_rounds: int = Field(15, ge=3)
    """Interleaved timing rounds at batch 1 (a third of them, at least 3, at batch 32)."""


@dataclass(frozen=True)
class TransformerShape:
    """What the transformer optimizer needs to fuse attention."""

    model_type: Literal["bert", "vit"]
    num_heads: int
    hidden_size: int


def transformer_shape(module: Any) -> TransformerShape | None:
    """The attention shape of the transformer encoder inside ``module``, or ``None`` (a CNN).

    Recognises transformers' encoders (``config.num_attention_heads``) and timm ViTs
    (``blocks[i].attn.num_heads`` with ``embed_dim``).
    """
    for sub in module.modules():
        config = getattr(sub, "config", None)
        heads = getattr(config, "num_attention_heads", None)
        if isinstance(heads, int) and isinstance(getattr(config, "hidden_size", None), int):
            return TransformerShape("bert", heads, config.hidden_size)
        blocks = getattr(sub, "blocks", None)
        if blocks is not None and hasattr(sub, "embed_dim") and len(blocks) > 0 \
                and hasattr(getattr(blocks[0], "attn", None), "num_heads"):
            return TransformerShape("vit", int(blocks[0].attn.num_heads), int(sub.embed_dim))
    return None


@dataclass(frozen=True)
class OptimizeInputs:
    """What the trials measure with.

    Attributes:
        parity_batch: A preprocessed batch of real inputs whose outputs are compared.
        batch_1: A preprocessed real batch of one example (latency).
        batch_32: A preprocessed real batch of up to 32 examples (throughput).
        evaluate: The bundle's own evaluation of a graph file, or ``None`` without data.
        calibration: Preprocessed batches of real training inputs (static int8), or ``None``.
        transformer: The encoder's attention shape, or ``None`` for a CNN.
        tolerance: The export's parity tolerance (graph fusion must stay within it).
    """

    parity_batch: Mapping[str, np.ndarray]
    batch_1: Mapping[str, np.ndarray]
    batch_32: Mapping[str, np.ndarray]
    evaluate: Callable[[Path], Evaluation] | None
    calibration: Sequence[Mapping[str, np.ndarray]] | None
    transformer: TransformerShape | None
    tolerance: float


@dataclass(frozen=True)
class Optimized:
    """The outcome: the graph kept, every decision, and the kept graph's own evaluation."""

    model: bytes
    records: list[Optimization]
    evaluation: Evaluation | None
    fp16: bool


def _record_kind(kind: OptimizationKind, inputs: OptimizeInputs) -> str:
    if kind == "int8":
        return "int8-dynamic" if inputs.transformer is not None else "int8-qdq"
    return kind


def _transform(kind: OptimizationKind, model: bytes, inputs: OptimizeInputs) -> tuple[str, bytes]:
    """``(record kind, transformed graph)`` for one optimization."""
    record = _record_kind(kind, inputs)
    if record == "graph":
        if inputs.transformer is None:
            return record, transforms.basic_optimize(model)
        shape = inputs.transformer
        return record, transforms.fuse_transformer(model, shape.model_type, shape.num_heads,
                                                   shape.hidden_size)
    if record == "int8-dynamic":
        return record, transforms.int8_dynamic(model)
    if record == "int8-qdq":
        if not inputs.calibration:
            raise ExportError("static int8 needs at least 256 real training inputs to calibrate "
                              "on, and the export has fewer (export from a run or with a dataset)")
        return record, transforms.int8_qdq(model, inputs.calibration)
    return record, transforms.to_fp16(model)


def _first_output(session: Any, batch: Mapping[str, np.ndarray]) -> np.ndarray:
    return next(iter(run_session(session, batch).values())).astype(np.float64)


def _measure(kind: str, current: Path, candidate: Path, inputs: OptimizeInputs,
             config: OptimizeConfig) -> dict[str, float | None]:
    base, new = cpu_session(current, spinning=True), cpu_session(candidate, spinning=True)
    diff = float(np.abs(_first_output(base, inputs.parity_batch)
                        - _first_output(new, inputs.parity_batch)).max())
    if kind == "fp16":  # CPU timings say nothing about a GPU bundle
        return {"max_abs_diff": diff, "speedup_b1": None, "speedup_b32": None}
    b1 = interleaved_latency_ms([base, new], inputs.batch_1, config.timing_rounds)
    b32 = interleaved_latency_ms([base, new], inputs.batch_32, max(3, config.timing_rounds // 3))
    return {"max_abs_diff": diff, "speedup_b1": b1[0] / b1[1], "speedup_b32": b32[0] / b32[1]}


def _decide(kind: str, figures: dict[str, float | None], quality_change: float | None,
            inputs: OptimizeInputs, config: OptimizeConfig) -> tuple[bool, str]:
    """``(kept, reason)`` by the rule of the module docstring (before ``force``)."""
    diff = figures["max_abs_diff"]
    if kind == "graph" and diff is not None and diff > inputs.tolerance:
        return False, (f"outputs moved by {diff:.2e}, over the parity "
                       f"tolerance {inputs.tolerance:.0e}")
    if quality_change is None and kind != "graph":
        if kind == "fp16":
            return True, "quality not measurable here; parity unverified until measured on a GPU"
        return False, "no evaluation data: its quality loss cannot be measured"
    if quality_change is not None and -quality_change > config.max_quality_loss:
        return False, (f"loses {-quality_change:.2f} points of macro-F1, over the limit of "
                       f"{config.max_quality_loss:.2f}")
    if kind == "fp16":
        return True, "speed not measurable without a GPU; parity unverified until measured on one"
    b1, b32 = figures["speedup_b1"], figures["speedup_b32"]
    mean = math.sqrt(b1 * b32)  # type: ignore[operator]
    verdict = f"speedup {b1:.2f}x at batch 1, {b32:.2f}x at batch 32 (geometric mean {mean:.2f})"
    if mean < config.min_speedup:
        return False, f"not faster: {verdict}, under {config.min_speedup:.2f}"
    return True, verdict


def optimize(model: bytes, baseline: Evaluation | None, inputs: OptimizeInputs,
             config: OptimizeConfig) -> Optimized:
    """Try ``config.optimizations`` on the checked fp32 ``model``; keep what the rule accepts.

    Args:
        model: The fp32 graph as exported and checked.
        baseline: Its own evaluation (``None`` without data).
        inputs: Real batches, the evaluation and what the transforms need.
        config: Which optimizations, and the rule.

    Returns:
        The graph kept, one record per optimization tried, the kept graph's evaluation (``None``
        when it could not be evaluated: a float16 graph this CPU cannot run), and whether it is
        float16.
    """
    current, evaluation, records, fp16 = model, baseline, [], False
    with tempfile.TemporaryDirectory(prefix="zhijian-optimize-") as tmp:
        for step, kind in enumerate(k for k in ORDER if k in config.optimizations):
            if kind == "fp16" and any(r.applied and r.kind.startswith("int8") for r in records):
                records.append(Optimization(kind="fp16", applied=False,
                                            reason="an int8 graph is not converted to float16"))
                continue
            current_path = Path(tmp) / f"current-{step}.onnx"
            current_path.write_bytes(current)
            try:
                record_kind, candidate = _transform(kind, current, inputs)
            except ExportError as exc:
                records.append(Optimization(kind=_record_kind(kind, inputs), applied=False,
                                            reason=str(exc)))
                continue
            candidate_path = Path(tmp) / f"candidate-{step}.onnx"
            candidate_path.write_bytes(candidate)
            candidate_eval = quality_change = None
            try:
                figures = _measure(record_kind, current_path, candidate_path, inputs, config)
                if inputs.evaluate is not None:
                    candidate_eval = inputs.evaluate(candidate_path)
            except ExportError as exc:
                if record_kind != "fp16":
                    records.append(Optimization(kind=record_kind, applied=False,
                                                reason=f"it does not run here: {exc}"))
                    continue
                figures = {"max_abs_diff": None, "speedup_b1": None, "speedup_b32": None}
            if candidate_eval is not None and evaluation is not None:
                quality_change = 100.0 * (candidate_eval.macro_f1 - evaluation.macro_f1)
            kept, reason = _decide(record_kind, figures, quality_change, inputs, config)
            forced = config.force and not kept
            records.append(Optimization(kind=record_kind, applied=kept or forced, forced=forced,
                                        quality_change=quality_change,
                                        reason=f"forced although {reason}" if forced else reason,
                                        **figures))
            if kept or forced:
                current, evaluation = candidate, candidate_eval
                fp16 = fp16 or record_kind == "fp16"
    return Optimized(model=current, records=records, evaluation=evaluation, fp16=fp16)

"""ONNX Runtime against PyTorch on real inputs, at several batch sizes and sequence lengths."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from zhijian_core.bundle.manifest import Parity
from zhijian_core.errors import ExportError
from zhijian_core.export.onnx_export import TaskKind, graph_module, input_names_of
from zhijian_core.export.runtime import cpu_session, run_session
from zhijian_core.preprocess import build_preprocessor
from zhijian_core.preprocess.spec import ImagePreprocessSpec, TextPreprocessSpec

if TYPE_CHECKING:
    from torch import nn

DEFAULT_TOLERANCE = 1e-4
"""Largest accepted absolute difference between ONNX Runtime and PyTorch outputs (fp32)."""
BATCH_SIZES = (1, 4, 32)
"""Batch sizes compared (capped at the number of inputs available)."""
SEQUENCE_LENGTHS = (8, 32)
"""Sequence lengths compared for text, besides the spec's ``max_length``."""


def parity_batches(spec: TextPreprocessSpec | ImagePreprocessSpec, assets_dir: Path | None,
                   raw_inputs: Sequence[Any], batch_sizes: Sequence[int] = BATCH_SIZES,
                   sequence_lengths: Sequence[int] = SEQUENCE_LENGTHS
                   ) -> tuple[list[dict[str, np.ndarray]], list[int], list[int] | None]:
    """Preprocess real inputs into the batches parity compares.

    Text is tokenized to ``max_length`` and cut to each sequence length (so rows are trimmed or
    padded with the pad id and mask 0); images go through the preprocessing as they are.

    Args:
        spec: The preprocessing spec of the bundle.
        assets_dir: Folder of the tokenizer file (text).
        raw_inputs: Raw examples (strings or images), at least one.
        batch_sizes: Batch sizes wanted; each is capped at ``len(raw_inputs)``.
        sequence_lengths: Text lengths wanted besides ``max_length``; those above it are dropped.

    Returns:
        The batches, the batch sizes used and the sequence lengths used (``None`` for images).

    Raises:
        ExportError: No raw inputs were given.
    """
    items = list(raw_inputs)
    if not items:
        raise ExportError("parity needs at least one real input; the validation split is empty")
    sizes = sorted({min(b, len(items)) for b in batch_sizes})
    pool = items[:max(sizes)]
    if isinstance(spec, TextPreprocessSpec):
        full = build_preprocessor(spec.model_copy(update={"padding": "max_length"}), assets_dir)(pool)
        lengths = sorted({n for n in sequence_lengths if n < spec.max_length} | {spec.max_length})
        batches = [{name: array[:size, :length] for name, array in full.items()}
                   for size in sizes for length in lengths]
        return batches, sizes, lengths
    full = build_preprocessor(spec, assets_dir)(pool)
    return [{name: array[:size] for name, array in full.items()} for size in sizes], sizes, None


def check_parity(module: "nn.Module", kind: TaskKind, model: bytes | Path,
                 spec: TextPreprocessSpec | ImagePreprocessSpec, assets_dir: Path | None,
                 raw_inputs: Sequence[Any], tolerance: float = DEFAULT_TOLERANCE,
                 batch_sizes: Sequence[int] = BATCH_SIZES,
                 sequence_lengths: Sequence[int] = SEQUENCE_LENGTHS) -> Parity:
    """Compare ONNX Runtime (CPU) with PyTorch on every output; fail over ``tolerance``.

    Args:
        module: The PyTorch module that was exported (classifier, or backbone for embeddings).
        kind: ``classification`` or ``embedding``.
        model: The exported graph (bytes or path).
        spec: The bundle's preprocessing spec.
        assets_dir: Folder of the tokenizer file (text).
        raw_inputs: Real validation examples, raw.
        tolerance: Largest accepted max absolute difference.
        batch_sizes: Batch sizes compared.
        sequence_lengths: Text lengths compared besides ``max_length``.

    Returns:
        The measured parity (``passed`` is ``True``).

    Raises:
        ExportError: The difference exceeds ``tolerance`` (the message gives the numbers), or an
            output is missing or of another shape.
    """
    import torch

    batches, sizes, lengths = parity_batches(spec, assets_dir, raw_inputs, batch_sizes,
                                             sequence_lengths)
    names = input_names_of(spec)
    wrapper = graph_module(module, kind, names)
    was_training = module.training
    session = cpu_session(model)
    worst, where = 0.0, ""
    try:
        for batch in batches:
            with torch.inference_mode():
                expected = wrapper(*(torch.from_numpy(np.ascontiguousarray(batch[n])) for n in names))
            actual = run_session(session, batch)
            for name, reference in zip(actual, expected):
                got, ref = actual[name], reference.float().numpy()
                if got.shape != ref.shape:
                    raise ExportError(f"ONNX output '{name}' has shape {got.shape}, PyTorch "
                                      f"{ref.shape}, for inputs of shape {batch[names[0]].shape}")
                diff = float(np.max(np.abs(got.astype(np.float64) - ref))) if got.size else 0.0
                if not np.isfinite(diff) or diff > worst:
                    worst, where = diff, f"'{name}' at input shape {tuple(batch[names[0]].shape)}"
    finally:
        module.train(was_training)
    if not np.isfinite(worst) or worst > tolerance:
        raise ExportError(f"ONNX Runtime differs from PyTorch by {worst:.3g} (max abs) on {where}, "
                          f"over the tolerance {tolerance:.3g}; the export is refused")
    return Parity(max_abs_diff=worst, tolerance=tolerance, passed=True, batch_sizes=sizes,
                  sequence_lengths=lengths)

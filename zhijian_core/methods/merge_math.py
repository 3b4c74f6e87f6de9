"""Pure merge math over state dicts: averages, interpolation, task vectors, TIES and Fisher merging.

Every function takes tensors (or name-to-tensor mappings) and returns new tensors; nothing here
knows about methods, models or data, so each equals its closed form and is tested against values
computed by hand. A "state dict" here maps parameter names to floating-point tensors of equal
shapes across the models being merged; callers pick which entries take part.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor

StateDict = Mapping[str, Tensor]


def check_compatible(states: Sequence[StateDict], same_dtype: bool = True) -> None:
    """Raise ``ValueError`` unless every state dict has the same names, shapes (and dtypes).

    Args:
        states: At least one state dict.
        same_dtype: Also require equal dtypes.
    """
    if not states:
        raise ValueError("nothing to merge: no state dicts were given")
    first = states[0]
    for i, other in enumerate(states[1:], start=1):
        if set(other) != set(first):
            extra, missing = sorted(set(other) - set(first)), sorted(set(first) - set(other))
            raise ValueError(f"model {i} does not have model 0's parameters (extra {extra[:3]}, "
                             f"missing {missing[:3]})")
        for name, tensor in first.items():
            if other[name].shape != tensor.shape or (same_dtype and other[name].dtype != tensor.dtype):
                raise ValueError(f"parameter {name!r}: model {i} has {tuple(other[name].shape)} "
                                 f"{other[name].dtype}, model 0 {tuple(tensor.shape)} {tensor.dtype}")


def weighted_average(states: Sequence[StateDict], weights: Sequence[float] | None = None
                     ) -> dict[str, Tensor]:
    """``Σ_i w_i θ_i / Σ_i w_i`` per entry (uniform weights by default): a uniform model soup.

    Args:
        states: The models' state dicts (same names and shapes).
        weights: Non-negative weight of each model, not all zero; ``None``: all equal.
    """
    check_compatible(states)
    weights = [1.0] * len(states) if weights is None else list(weights)
    if len(weights) != len(states) or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"need one non-negative weight per model, not all zero; got {weights}")
    total = float(sum(weights))
    return {name: sum(float(w) * state[name].double() for w, state in zip(weights, states))
            .div(total).to(states[0][name].dtype) for name in states[0]}


def interpolate(start: StateDict, end: StateDict, alpha: float) -> dict[str, Tensor]:
    """``(1 - α) θ_start + α θ_end`` per entry (WiSE-FT: start = zero-shot, end = fine-tuned).

    At ``α = 0`` and ``α = 1`` the result is exactly ``start`` and ``end`` (copied).

    Args:
        start: State dict at ``α = 0``.
        end: State dict at ``α = 1``.
        alpha: Mixing coefficient (usually in ``[0, 1]``).
    """
    check_compatible([start, end])
    out = {}
    for name, a in start.items():
        b = end[name]
        if alpha == 0.0:
            out[name] = a.clone()
        elif alpha == 1.0:
            out[name] = b.clone()
        else:
            out[name] = ((1.0 - alpha) * a.double() + alpha * b.double()).to(a.dtype)
    return out


def task_vector(base: StateDict, tuned: StateDict) -> dict[str, Tensor]:
    """``τ = θ_tuned - θ_base`` per entry (Ilharco et al. 2023)."""
    check_compatible([base, tuned])
    return {name: tuned[name].double() - base[name].double() for name in base}


def add_task_vectors(base: StateDict, vectors: Sequence[StateDict], scaling: float
                     ) -> dict[str, Tensor]:
    """``θ_base + λ Σ_i τ_i`` per entry: task arithmetic's sum of task vectors.

    Args:
        base: The pre-trained state dict.
        vectors: Task vectors (as from :func:`task_vector`), names and shapes as ``base``.
        scaling: ``λ``.
    """
    check_compatible([base, *vectors], same_dtype=False)
    return {name: (base[name].double() + scaling * sum(v[name].double() for v in vectors))
            .to(base[name].dtype) for name in base}


def trim_top_k(vector: StateDict, density: float) -> dict[str, Tensor]:
    """Keep the ``density`` fraction of entries of largest magnitude over the whole task vector.

    TIES' *trim* step: the threshold is global over every entry of the vector (all parameters
    together), not per tensor. Exactly ``round(density · n)`` entries are kept (at least one),
    ties in magnitude broken by position, so the result is deterministic.

    Args:
        vector: A task vector.
        density: Fraction of entries to keep, in ``(0, 1]``.
    """
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    names = list(vector)
    flat = torch.cat([vector[name].reshape(-1) for name in names])
    keep = max(1, round(density * flat.numel()))
    mask = torch.zeros_like(flat, dtype=torch.bool)
    order = torch.sort(flat.abs(), descending=True, stable=True).indices  # ties: earlier first
    mask[order[:keep]] = True
    out, offset = {}, 0
    for name in names:
        n = vector[name].numel()
        out[name] = torch.where(mask[offset:offset + n], flat[offset:offset + n], 0.0
                                ).reshape(vector[name].shape)
        offset += n
    return out


def elect_sign(vectors: Sequence[StateDict]) -> dict[str, Tensor]:
    """TIES' *elect*: per entry, the sign of the summed (trimmed) task vectors, ``sign(Σ_i τ̂_i)``.

    The sign with the larger total magnitude wins; an entry summing to exactly zero elects ``0``
    (nothing is merged there).
    """
    return {name: torch.sign(sum(v[name] for v in vectors)) for name in vectors[0]}


def disjoint_mean(vectors: Sequence[StateDict], signs: StateDict) -> dict[str, Tensor]:
    """TIES' *disjoint merge*: per entry, the mean of the values whose sign agrees with the elected
    one (zeros and disagreeing values excluded); ``0`` where none agrees."""
    out = {}
    for name, sign in signs.items():
        stacked = torch.stack([v[name] for v in vectors])
        agree = (torch.sign(stacked) == sign) & (stacked != 0)
        count = agree.sum(0)
        total = torch.where(agree, stacked, 0.0).sum(0)
        out[name] = torch.where(count > 0, total / count.clamp(min=1), 0.0)
    return out


def ties_merge(base: StateDict, vectors: Sequence[StateDict], density: float, scaling: float
               ) -> dict[str, Tensor]:
    """``θ_base + λ τ_m`` with ``τ_m`` the trimmed, sign-elected, disjoint mean of the task vectors.

    Yadav, Tam, Choshen, Raffel & Bansal, "TIES-Merging: Resolving Interference When Merging
    Models", NeurIPS 2023 (Algorithm 1).

    Args:
        base: The pre-trained state dict.
        vectors: Task vectors (as from :func:`task_vector`).
        density: Fraction ``k`` of each task vector kept by the trim step.
        scaling: ``λ``.
    """
    if not vectors:
        raise ValueError("TIES needs at least one task vector")
    trimmed = [trim_top_k(v, density) for v in vectors]
    merged = disjoint_mean(trimmed, elect_sign(trimmed))
    return add_task_vectors(base, [merged], scaling)


def fisher_weighted_average(states: Sequence[StateDict], fishers: Sequence[StateDict],
                            floor: float = 0.0) -> dict[str, Tensor]:
    """``Σ_i F_i θ_i / Σ_i F_i`` per entry, with diagonal Fishers ``F_i`` (Matena & Raffel 2022).

    Args:
        states: The models' state dicts.
        fishers: One diagonal Fisher per model, names and shapes as the states (non-negative).
        floor: Added to every Fisher entry, so that an entry no model is sensitive to (all
            Fishers zero) becomes the plain average instead of ``0 / 0``.
    """
    check_compatible(states)
    if len(fishers) != len(states):
        raise ValueError(f"{len(states)} models but {len(fishers)} Fishers")
    out = {}
    for name in states[0]:
        weights = [f[name].double() + floor for f in fishers]
        total = sum(weights)
        if bool((total <= 0).any()):
            raise ValueError(f"parameter {name!r} has zero total Fisher; set a positive floor")
        out[name] = (sum(w * s[name].double() for w, s in zip(weights, states)) / total
                     ).to(states[0][name].dtype)
    return out

"""Intermediate outputs of a backbone's block groups, captured with temporary forward hooks.

Used by FitNet (hints) and DELTA (feature maps). The hooks are removed when the ``with`` block ends,
so the model never keeps them (the finalized module stays plain).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Mapping, Sequence

from torch import Tensor

from zhijian_core.errors import NotApplicableError
from zhijian_core.ptm.backbone import Backbone


def check_block_indices(method: str, spec: str, backbone: Backbone,
                        indices: Sequence[int]) -> list[int]:
    """Normalise ``indices`` (negative ones count from the end) against the block groups.

    Raises:
        NotApplicableError: an index is outside the backbone's block groups.
    """
    count = len(backbone.block_groups())
    out = []
    for index in indices:
        if not -count <= index < count:
            raise NotApplicableError(
                f"method '{method}' cannot use block {index} of {spec}: it has only {count} block "
                f"groups (indices 0 to {count - 1}, or -1 to -{count})")
        out.append(index % count)
    return out


def middle_block(backbone: Backbone) -> int:
    """The middle block group (the lower one of two middles), FitNet's default hint position."""
    return (len(backbone.block_groups()) + 1) // 2 - 1


class _Reached(Exception):
    """Raised by a hook to end a forward pass once the wanted block has run."""


def output_of_block(backbone: Backbone, batch: Mapping[str, Tensor], index: int) -> Tensor:
    """Run ``backbone`` on ``batch`` only as far as block group ``index``; return its output.

    The blocks above ``index`` (and the pooling) never run, so neither time nor memory is spent on
    them and none of their parameters enters the graph.
    """
    groups = backbone.block_groups()
    captured: list[Tensor] = []

    def hook(_module, _inputs, output) -> None:
        captured.append(output[0] if isinstance(output, tuple) else output)
        raise _Reached

    handle = groups[index].register_forward_hook(hook)
    try:
        backbone(batch)
    except _Reached:
        pass
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError(f"block {index} of {type(backbone).__name__} did not run")
    return captured[0]


@contextmanager
def block_outputs(backbone: Backbone, indices: Sequence[int]) -> Iterator[dict[int, Tensor]]:
    """Capture the outputs of block groups ``indices`` during forwards inside the ``with`` block.

    A block returning a tuple (a transformers layer) contributes its first element, the hidden
    states. Yields a dict filled by each forward: block index to output.
    """
    groups = backbone.block_groups()
    captured: dict[int, Tensor] = {}
    handles = []
    for index in indices:
        def hook(_module, _inputs, output, index=index) -> None:
            captured[index] = output[0] if isinstance(output, tuple) else output
        handles.append(groups[index].register_forward_hook(hook))
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def as_positions(feature_map: Tensor) -> Tensor:
    """A block output as ``(B, P, C)``: channels last, positions (tokens or pixels) in the middle.

    ``(B, C, H, W)`` maps become ``(B, H·W, C)``; token sequences ``(B, T, C)`` stay as they are.
    """
    if feature_map.ndim == 4:
        return feature_map.flatten(2).transpose(1, 2)
    if feature_map.ndim == 3:
        return feature_map
    raise ValueError(f"expected a (B, C, H, W) feature map or (B, T, C) tokens, got shape "
                     f"{tuple(feature_map.shape)}")


def position_mask(batch: Mapping[str, Tensor], feature_map: Tensor) -> Tensor | None:
    """Weights ``(B, P)`` of the valid positions: the attention mask for tokens, else ``None``."""
    mask = batch.get("attention_mask")
    if mask is None or feature_map.ndim != 3 or mask.shape[1] != feature_map.shape[1]:
        return None
    return mask.to(feature_map.dtype)


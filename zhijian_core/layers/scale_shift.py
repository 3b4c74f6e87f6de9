"""SSF's scale-and-shift of a layer's output, and its merge into that layer."""

from __future__ import annotations

import torch
from torch import Tensor, nn

MERGEABLE: tuple[type[nn.Module], ...] = (
    nn.Linear, nn.modules.conv._ConvNd, nn.LayerNorm, nn.modules.batchnorm._BatchNorm)


def output_channels(layer: nn.Module) -> int:
    """Size of the channel dimension of ``layer``'s output (features of a linear layer or norm)."""
    if isinstance(layer, nn.Linear):
        return layer.out_features
    if isinstance(layer, nn.modules.conv._ConvNd):
        return layer.out_channels
    if isinstance(layer, nn.LayerNorm):
        if len(layer.normalized_shape) != 1:
            raise ValueError("SSF follows a LayerNorm over one dimension only")
        return layer.normalized_shape[0]
    if isinstance(layer, nn.modules.batchnorm._BatchNorm):
        return layer.num_features
    raise ValueError(f"SSF does not know the output channels of a {type(layer).__name__}")


class ScaleShift(nn.Module):
    """``y = γ ⊙ base(x) + β`` over ``base``'s channels (last dimension, or dimension 1 of maps).

    Initialised as the paper's code does: ``γ ~ N(1, std²)``, ``β ~ N(0, std²)``.

    Args:
        base: The layer whose output is scaled and shifted.
        channels: Its number of output channels.
        channel_dim: ``-1`` for token features (linear, layer norm), ``1`` for feature maps.
        init_std: Standard deviation of the initial ``γ`` and ``β`` around ``1`` and ``0``.
    """

    def __init__(self, base: nn.Module, channels: int, channel_dim: int,
                 init_std: float = 0.02) -> None:
        super().__init__()
        self.base = base
        self.channel_dim = channel_dim
        self.scale = nn.Parameter(torch.empty(channels))
        self.shift = nn.Parameter(torch.empty(channels))
        nn.init.normal_(self.scale, mean=1.0, std=init_std)
        nn.init.normal_(self.shift, std=init_std)

    def forward(self, x: Tensor) -> Tensor:
        y = self.base(x)
        if self.channel_dim == -1:
            return y * self.scale + self.shift
        view = [1] * y.dim()
        view[self.channel_dim] = -1
        return y * self.scale.view(view) + self.shift.view(view)


def channel_dim_of(layer: nn.Module) -> int:
    """Where a layer's channels are: dimension 1 for convolutions and batch norms, else last."""
    if isinstance(layer, (nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm)):
        return 1
    return -1


def _affine_norm_types() -> tuple[type[nn.Module], ...]:
    """Norm layers whose output is ``weight ⊙ normalised(x) + bias``, per channel: torch's layer
    and batch norms, and timm's ``LayerNorm`` (the same computation, with an optional fused
    kernel). Subclasses that add to the output (timm's ``BatchNormAct2d`` fuses an activation)
    are not among them."""
    types: list[type[nn.Module]] = [nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d]
    try:
        from timm.layers import LayerNorm as TimmLayerNorm
    except ImportError:  # timm is optional; without it, no timm norm can occur
        pass
    else:
        types.append(TimmLayerNorm)
    return tuple(types)


def can_merge(layer: nn.Module) -> bool:
    """Whether a scale-shift after ``layer`` folds into it: its output must be affine per channel
    with a bias to take the shift (a linear layer or convolution with bias, an affine norm)."""
    if isinstance(layer, nn.modules.conv._ConvNd) and layer.transposed:
        return False
    if isinstance(layer, (nn.Linear, nn.modules.conv._ConvNd)):
        return layer.bias is not None
    if type(layer) not in _affine_norm_types():
        return False
    if isinstance(layer, nn.modules.batchnorm._BatchNorm):
        return layer.affine
    return getattr(layer, "weight", None) is not None and getattr(layer, "bias", None) is not None


@torch.no_grad()
def merge_scale_shift(wrapped: ScaleShift) -> nn.Module:
    """Fold ``γ`` and ``β`` into the wrapped layer and return it (the layer is changed in place).

    A linear layer or convolution gets ``W ← γ W`` (per output channel) and ``b ← γ b + β``; an
    affine norm gets ``weight ← γ weight`` and ``bias ← γ bias + β``.

    Raises:
        ValueError: The layer cannot absorb the scale-shift (see :func:`can_merge`).
    """
    layer, scale, shift = wrapped.base, wrapped.scale, wrapped.shift
    if not can_merge(layer):
        raise ValueError(f"a scale-shift after a {type(layer).__name__} without bias or affine "
                         "parameters cannot be merged into it")
    weight = layer.weight
    weight.mul_(scale.view(-1, *([1] * (weight.dim() - 1))))
    layer.bias.mul_(scale).add_(shift)
    return layer

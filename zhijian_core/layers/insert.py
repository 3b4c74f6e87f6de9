"""Put the layers an :class:`~zhijian_core.layers.specs.Insertion` describes into a backbone.

The same function builds a method's target (on a copy of the pre-trained backbone) and rebuilds a
stored run (on a random-init skeleton, before its weights are loaded), so both have the same
module tree and state-dict keys.
"""

from __future__ import annotations

from torch import nn

from zhijian_core.layers.bottleneck import ParallelAdapter, SerialAdapter
from zhijian_core.layers.scale_shift import ScaleShift, channel_dim_of, output_channels
from zhijian_core.layers.specs import (Insertion, ParallelAdapterSpec, PromptSpec,
                                       ScaleShiftSpec, SerialAdapterSpec)
from zhijian_core.ptm.backbone import Backbone


def replace_module(root: nn.Module, path: str, new: nn.Module) -> None:
    """Set the submodule of ``root`` at dotted ``path`` to ``new``."""
    parent, _, child = path.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, new)


def _mlp_width(module: nn.Module) -> int:
    """Input width of an MLP: that of its first linear layer."""
    first = next((m for m in module.modules() if isinstance(m, nn.Linear)), None)
    if first is None:
        raise ValueError(f"{type(module).__name__} has no linear layer to take its width from")
    return first.in_features


def _output_width(module: nn.Module) -> int:
    """Output width of a post-norm output layer: that of its last linear layer."""
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(module).__name__} has no linear layer to take its width from")
    return linears[-1].out_features


def apply_insertion(backbone: Backbone, spec: Insertion) -> None:
    """Insert the layers of ``spec`` into ``backbone`` (in place).

    Raises:
        ValueError: A target is missing or is not a layer of the expected kind.
    """
    model = backbone.model
    if isinstance(spec, PromptSpec):
        backbone.add_prompts(spec.tokens, spec.deep)
        return
    for path in spec.targets:
        try:
            base = model.get_submodule(path)
        except AttributeError as exc:
            raise ValueError(f"{type(model).__name__} has no module '{path}'") from exc
        if isinstance(spec, SerialAdapterSpec):
            if not isinstance(base, nn.Linear):
                raise ValueError(f"a serial adapter follows a linear layer; '{path}' is a "
                                 f"{type(base).__name__}")
            new: nn.Module = SerialAdapter(base, base.out_features, spec.hidden)
        elif isinstance(spec, ParallelAdapterSpec):
            width = _output_width(base) if spec.residual_input else _mlp_width(base)
            new = ParallelAdapter(base, width, spec.hidden, spec.scale, spec.residual_input)
        elif isinstance(spec, ScaleShiftSpec):
            new = ScaleShift(base, output_channels(base), channel_dim_of(base))
        else:  # pragma: no cover - the union is closed
            raise TypeError(f"unknown insertion {spec!r}")
        replace_module(model, path, new)

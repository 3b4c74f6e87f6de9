"""Injecting IA3 layers with ``peft`` (imported inside the function: listing methods must not)."""

from __future__ import annotations

from typing import Sequence

from torch import nn

from zhijian_core.errors import MissingDependencyError


def inject_ia3(model: nn.Module, target_modules: Sequence[str],
               feedforward_modules: Sequence[str]) -> list[str]:
    """Replace the target modules of ``model`` in place by IA3 layers, their vectors at one.

    A target layer computes ``l ⊙ (W x + b)``; a feed-forward one ``W (l ⊙ x) + b``. ``peft``
    marks only the ``ia3_l`` vectors of ``model`` trainable.

    Args:
        model: Module to adapt (mutated in place).
        target_modules: Module names or name suffixes to adapt (linear and convolution layers).
        feedforward_modules: Those of ``target_modules`` rescaled on their input.

    Returns:
        Names of the adapted modules, relative to ``model``.

    Raises:
        ValueError: No module of ``model`` matches ``target_modules`` (from ``peft``).
    """
    try:
        import peft
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError as exc:
        raise MissingDependencyError("the 'ia3' method needs peft; install the 'train' extra "
                                     "(pip install 'zhijian[train]')") from exc
    config = peft.IA3Config(target_modules=list(target_modules),
                            feedforward_modules=list(feedforward_modules), init_ia3_weights=True)
    peft.inject_adapter_in_model(config, model)
    return [name for name, module in model.named_modules() if isinstance(module, BaseTunerLayer)]

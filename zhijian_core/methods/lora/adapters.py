"""Injecting LoRA layers with ``peft`` and merging them back into plain modules.

``peft`` is imported inside the functions: listing the methods must not import it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Sequence

from torch import nn

from zhijian_core.errors import MissingDependencyError


def _peft() -> ModuleType:
    try:
        import peft
    except ImportError as exc:
        raise MissingDependencyError("the 'lora' method needs peft; install the 'train' extra "
                                     "(pip install 'zhijian[train]')") from exc
    return peft


def inject_lora(model: nn.Module, r: int, alpha: float, dropout: float,
                target_modules: Sequence[str]) -> list[str]:
    """Replace the target modules of ``model`` in place by LoRA layers (``B`` zero, ``A`` random).

    Each adapted layer computes ``W x + (alpha / r) · B A x``. ``peft`` marks only the ``lora_``
    parameters of ``model`` trainable.

    Args:
        model: Module to adapt (mutated in place).
        r: Rank of the updates.
        alpha: Scaling numerator (the update is scaled by ``alpha / r``).
        dropout: Dropout probability on the low-rank branch's input.
        target_modules: Module names or name suffixes to adapt (linear and convolution layers).

    Returns:
        Names of the adapted modules, relative to ``model``.

    Raises:
        ValueError: No module of ``model`` matches ``target_modules`` (from ``peft``).
    """
    peft = _peft()
    config = peft.LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout,
                             target_modules=list(target_modules), bias="none")
    peft.inject_adapter_in_model(config, model)
    from peft.tuners.tuners_utils import BaseTunerLayer

    return [name for name, module in model.named_modules() if isinstance(module, BaseTunerLayer)]


def merge_lora(model: nn.Module) -> int:
    """Fold every LoRA layer of ``model`` into its base weights and put the base layer back.

    Afterwards ``model`` holds no ``peft`` module or attribute, and its state-dict keys are those it
    had before :func:`inject_lora` (merge-and-unload semantics).

    Args:
        model: Module holding LoRA layers below its root (mutated in place).

    Returns:
        The number of layers merged.
    """
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [(name, module) for name, module in model.named_modules()
              if isinstance(module, BaseTunerLayer)]
    for name, layer in layers:
        if not name:
            raise ValueError("the root module itself is a LoRA layer; wrap it in a container first")
        layer.merge()
        parent_name, _, child_name = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child_name, layer.get_base_layer())
    for module in model.modules():
        if "peft_config" in vars(module):  # set on the adapted module by inject_adapter_in_model
            del module.peft_config
    return len(layers)

"""L2-SP: cross-entropy plus an L2 pull of the backbone towards the PTM's weights."""

from __future__ import annotations

from typing import Mapping

import torch.nn.functional as F
from torch import Tensor, nn

from zhijian_core.errors import MethodError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod, trainable_copy
from zhijian_core.methods.l2sp.config import L2SPConfig
from zhijian_core.methods.l2sp.penalty import l2sp_penalty
from zhijian_core.methods.registry import register


@register
class L2SP(ReuseMethod):
    """Fine-tune everything with ``CE + α/2 ‖w_S − w_S⁰‖² + β/2 ‖w_head‖²``.

    Paper: Li, Grandvalet & Davoine, "Explicit Inductive Bias for Transfer Learning with
    Convolutional Networks", ICML 2018. ``w_S`` are the backbone's trainable parameters, ``w_S⁰``
    their pre-trained values (the *starting point*), snapshot in :meth:`prepare` and held by the
    method, outside the model; ``w_head`` are the new classifier's weight and bias.

    The snapshot is a detached copy, never the tensors being trained: the original toolbox compared
    the weights with themselves, so the penalty and its gradient were always zero. Here the
    penalty's gradient is ``α (w − w⁰)``, zero at the first step and non-zero once ``w`` moved.

    ``default_train``: learning rate 5e-5 (every weight trains from its pre-trained value) and no
    weight decay, which L2-SP replaces (decay pulls towards zero, the penalty towards ``w⁰``).
    """

    name = "l2sp"
    family = Family.TUNER
    paper = ('Li, Grandvalet & Davoine, "Explicit Inductive Bias for Transfer Learning with '
             'Convolutional Networks", ICML 2018')
    config_class = L2SPConfig
    default_train = {"lr": 5e-5, "weight_decay": 0.0}
    config: L2SPConfig

    def __init__(self, config: L2SPConfig) -> None:
        super().__init__(config)
        self._start: dict[str, Tensor] | None = None

    def build(self, ctx: MethodContext) -> nn.Module:
        """A classifier on a copy of the PTM's backbone; all but its source classifier train."""
        self.check_applicable(ctx.ptm)
        return trainable_copy(ctx.ptm, ctx.num_classes)

    def prepare(self, model: nn.Module, ctx: MethodContext) -> None:
        """Snapshot the starting point: detached copies of the trainable backbone parameters."""
        self._start = {name: p.detach().clone() for name, p in model.backbone.named_parameters()
                       if p.requires_grad}

    def penalty(self, model: nn.Module) -> Tensor:
        """The L2-SP penalty of ``model``'s current parameters."""
        if self._start is None:
            raise MethodError(f"method '{self.name}': prepare() must run before loss()")
        named = dict(model.backbone.named_parameters())
        shared = [named[name] for name in self._start]
        return l2sp_penalty(shared, list(self._start.values()), list(model.head.parameters()),
                            self.config.alpha, self.config.beta)

    def loss(self, model: nn.Module, batch: Mapping[str, Tensor], labels: Tensor,
             indices: Tensor) -> Tensor:
        """Cross-entropy on the batch plus the penalty."""
        return F.cross_entropy(model(batch).float(), labels) + self.penalty(model)

    def finalize(self, model: nn.Module) -> nn.Module:
        """The classifier alone, in eval mode (the starting-point snapshot is released)."""
        self._start = None
        return model.eval()

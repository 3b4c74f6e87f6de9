"""DELTA: cross-entropy plus attention-weighted feature-map distance to the source model."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zhijian_core.errors import MethodError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod, trainable_copy
from zhijian_core.methods.delta.attention import attention_weights, channel_loss_rises, fit_probe
from zhijian_core.methods.delta.config import DeltaConfig
from zhijian_core.methods.delta.penalty import feature_map_distance
from zhijian_core.methods.hooks import block_outputs, check_block_indices, position_mask
from zhijian_core.methods.registry import register
from zhijian_core.methods.stage_fit import training_tensors
from zhijian_core.ptm.backbone import Backbone
from zhijian_core.train.tensors import to_device


@register
class Delta(ReuseMethod):
    """Fine-tune with ``CE + α Σ_blocks Σ_j W_j ‖FM_j(w, x) − FM_j(w⁰, x)‖² + β ‖w_head‖²``.

    Paper: Li, Xiong, Wang, Rao, Liu, Chen & Huan, "DELTA: Deep Learning Transfer using Feature
    Map with Attention for Convolutional Networks", ICLR 2019. Instead of the weights (L2-SP),
    the *behaviour* of the source model is kept: the outputs of the regularised blocks stay close
    to those of the frozen source model on the same inputs, channel by channel, each channel
    weighted by its importance ``W_j`` to the task. Importance is measured once, in
    :meth:`prepare`, with the source model and a linear head fitted on its frozen features: the
    rise of the cross-entropy when the channel is zeroed, standardised over the block's channels
    and softmax-normalised with a temperature, as in the authors' implementation
    (``attention=False``: uniform weights ``1/C``, the unweighted variant). The maps are
    ``(B, C, H, W)`` for CNNs and token states ``(B, T, C)`` for transformers (padding excluded).

    The source model is the PTM's own backbone, frozen and in eval mode; it runs beside the
    student in each step and is never part of the target. The penalty is zero at the starting
    point and its gradient non-zero as soon as the features moved.
    ``default_train``: learning rate 5e-5 and no weight decay (the β term replaces it).
    """

    name = "delta"
    family = Family.TUNER
    paper = ('Li, Xiong, Wang, Rao, Liu, Chen & Huan, "DELTA: Deep Learning Transfer using '
             'Feature Map with Attention for Convolutional Networks", ICLR 2019')
    config_class = DeltaConfig
    default_train = {"lr": 5e-5, "weight_decay": 0.0}
    config: DeltaConfig

    def __init__(self, config: DeltaConfig) -> None:
        super().__init__(config)
        self._source: Backbone | None = None
        self._blocks: list[int] = []
        self._weights: dict[int, Tensor] = {}

    def build(self, ctx: MethodContext) -> nn.Module:
        """A classifier on a copy of the PTM's backbone; all but its source classifier train."""
        self.check_applicable(ctx.ptm)
        check_block_indices(self.name, ctx.ptm.spec, ctx.ptm.backbone, self.config.blocks)
        return trainable_copy(ctx.ptm, ctx.num_classes)

    def prepare(self, model: nn.Module, ctx: MethodContext) -> None:
        """Hold the frozen source backbone and measure (or set uniform) channel weights."""
        self._blocks = check_block_indices(self.name, ctx.ptm.spec, ctx.ptm.backbone,
                                           self.config.blocks)
        source = ctx.ptm.backbone.to(ctx.device).eval()
        self._source = source
        data = ctx.splits.train
        count = min(self.config.attention_examples, len(data))
        chosen = np.sort(np.random.default_rng(ctx.seed).permutation(len(data))[:count])
        subset = data.subset(chosen)
        tensors = training_tensors(self.name, ctx, ctx.ptm, subset)
        batch = to_device(tensors.batch(torch.arange(len(subset))), ctx.device)
        labels = tensors.labels.to(ctx.device)
        with torch.no_grad(), block_outputs(source, self._blocks) as outputs:
            source(batch)
        if not self.config.attention:
            self._weights = {b: torch.full((_channels(outputs[b]),), 1.0 / _channels(outputs[b]),
                                           device=ctx.device) for b in self._blocks}
            return
        features = ctx.encode(ctx.ptm, data).to(ctx.device)
        head = fit_probe(features, torch.as_tensor(data.labels, dtype=torch.long,
                                                   device=ctx.device), ctx.num_classes)
        self._weights = {
            b: attention_weights(channel_loss_rises(source, head, batch, labels, b),
                                 self.config.attention_temperature).to(ctx.device)
            for b in self._blocks}

    @property
    def channel_weights(self) -> dict[int, Tensor]:
        """The channel weights of each regularised block (after :meth:`prepare`)."""
        return dict(self._weights)

    def penalty(self, model: nn.Module, batch: Mapping[str, Tensor],
                student_maps: Mapping[int, Tensor]) -> Tensor:
        """``α`` times the weighted feature-map distance plus ``β ‖w_head‖²``."""
        if self._source is None:
            raise MethodError(f"method '{self.name}': prepare() must run before loss()")
        with torch.no_grad(), block_outputs(self._source, self._blocks) as source_maps:
            self._source(batch)
        distance = sum(feature_map_distance(student_maps[b], source_maps[b], self._weights[b],
                                            position_mask(batch, student_maps[b]))
                       for b in self._blocks)
        size = sum((p.float() ** 2).sum() for p in model.head.parameters())
        return self.config.alpha * distance + self.config.beta * size

    def loss(self, model: nn.Module, batch: Mapping[str, Tensor], labels: Tensor,
             indices: Tensor) -> Tensor:
        """Cross-entropy plus the DELTA penalty (one student forward, maps captured on the way)."""
        with block_outputs(model.backbone, self._blocks) as maps:
            logits = model(batch)
        return F.cross_entropy(logits.float(), labels) + self.penalty(model, batch, maps)

    def finalize(self, model: nn.Module) -> nn.Module:
        """The classifier alone, in eval mode (source model and weights released)."""
        self._source = None
        self._weights = {}
        return model.eval()


def _channels(output: Tensor) -> int:
    return int(output.shape[1] if output.ndim == 4 else output.shape[-1])

"""Head2Toe: rank every block's pooled features with a group lasso, train a head on the best."""

from __future__ import annotations

from typing import Mapping, cast

import torch
from torch import Tensor, nn

from zhijian_core.data.dataset import Dataset
from zhijian_core.errors import MethodError, NotApplicableError
from zhijian_core.layers.selection import FeatureSelection
from zhijian_core.layers.specs import FeatureSelectionSpec
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.head2toe.config import Head2ToeConfig
from zhijian_core.methods.head2toe.selection import group_lasso_scores, layer_scales
from zhijian_core.methods.registry import register
from zhijian_core.model import ArchitectureConfig, build_classifier
from zhijian_core.ptm.backbone import Backbone, freeze, unfreeze


class _AllBlocks(nn.Module):
    """Maps a batch to every block's pooled output, concatenated; remembers the blocks' sizes."""

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.backbone = backbone
        self.layer_dims: list[int] = []

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        parts = self.backbone.pooled_intermediates(batch)
        self.layer_dims = [int(p.shape[-1]) for p in parts]
        return torch.cat(parts, dim=-1)


@register
class Head2Toe(ReuseMethod):
    """A linear head on the most relevant features of all blocks of the frozen PTM.

    Paper: Evci, Dumoulin, Larochelle & Mozer, "Head2Toe: Utilizing Intermediate Representations
    for Better Transfer Learning", ICML 2022. Every block group's output is pooled (token or
    spatial average) and the poolings are concatenated; each block's part is divided by its mean
    L2 norm on the training split, so that blocks compete on one scale. A logistic regression with
    a group-lasso penalty (one group per feature, ``Σ_j ‖W_j‖₂``) is fitted on the training
    features; the ``num_features`` features with the largest ``‖W_j‖₂`` are kept, and a new
    linear head is trained on them alone. The backbone stays frozen (and in eval mode); the
    finalized model computes the selected features itself, and its architecture lists them.

    The backbone runs once per split: every block's pooled features are computed once (the
    training split's while ranking), and the head trains on the selected, scaled features of each
    split (:meth:`frozen_features`), as linear probing trains on cached final features.

    ``default_train``: that of linear probing (a convex head on fixed features: high learning
    rate, no warm-up, a small weight decay, larger batches), with fewer epochs.
    """

    name = "head2toe"
    family = Family.ARCHITECT
    paper = ('Evci, Dumoulin, Larochelle & Mozer, "Head2Toe: Utilizing Intermediate '
             'Representations for Better Transfer Learning", ICML 2022')
    config_class = Head2ToeConfig
    frozen_backbone = True
    default_train = {"lr": 1e-2, "epochs": 20, "batch_size": 64, "weight_decay": 1e-4,
                     "warmup_ratio": 0.0}
    config: Head2ToeConfig

    def __init__(self, config: Head2ToeConfig) -> None:
        super().__init__(config)
        self._selection: FeatureSelectionSpec | None = None
        self._scales: Tensor | None = None
        self._layer_dims: tuple[int, ...] = ()
        self._blocks: dict[str, Tensor] = {}
        """Every block's pooled features ``(N, sum(layer_dims))`` by dataset fingerprint."""

    def _all_blocks(self, ctx: MethodContext, dataset: Dataset) -> Tensor:
        """Every block's pooled features of ``dataset``: one pass of the frozen backbone, kept."""
        key = dataset.fingerprint()
        if key not in self._blocks:
            probe = _AllBlocks(ctx.ptm.backbone).eval()
            self._blocks[key] = ctx.logits_of(probe, ctx.ptm, dataset).float().cpu()
            if probe.layer_dims:
                self._layer_dims = tuple(probe.layer_dims)
        return self._blocks[key]

    def frozen_features(self, ctx: MethodContext, dataset: Dataset) -> Tensor:
        """The selected, layer-scaled features ``(N, num_features)`` the head reads, computed
        from every block's pooled features (one backbone pass per split, kept)."""
        if self._selection is None or self._scales is None:
            raise MethodError(f"method '{self.name}': build() selects the features and must run "
                              "before frozen_features()")
        features = self._all_blocks(ctx, dataset)
        layer = FeatureSelection(self._selection.layer_dims, self._selection.index)
        with torch.no_grad():
            layer.scales.copy_(self._scales)
            return layer(torch.split(features, self._selection.layer_dims, dim=-1))

    def _select(self, ctx: MethodContext) -> Tensor:
        """Rank the training split's features, keep the best; return the layer scales."""
        features = self._all_blocks(ctx, ctx.splits.train)
        dims = list(self._layer_dims)
        total = sum(dims)
        if self.config.num_features > total:
            raise NotApplicableError(
                f"method '{self.name}' with num_features={self.config.num_features} does not "
                f"apply to {ctx.ptm.spec}: its {len(dims)} block groups give only {total} pooled "
                f"features; set num_features to at most {total}")
        scales = layer_scales(features, dims)
        scaled = torch.cat([part / scales[i] for i, part in
                            enumerate(torch.split(features, dims, dim=-1))], dim=-1)
        scores = group_lasso_scores(scaled, torch.as_tensor(ctx.splits.train.labels),
                                    ctx.num_classes, self.config.l21, self.config.selection_steps,
                                    self.config.selection_lr, ctx.seed)
        index = torch.topk(scores, self.config.num_features).indices.sort().values
        self._selection = FeatureSelectionSpec(layer_dims=tuple(dims),
                                               index=tuple(int(i) for i in index))
        self._scales = scales
        return scales

    def build(self, ctx: MethodContext) -> nn.Module:
        """Select the features on the training split; the frozen PTM with a head on them."""
        self.check_applicable(ctx.ptm)
        scales = self._select(ctx)
        model = build_classifier(self.architecture(ctx), ctx.ptm.backbone)
        with torch.no_grad():
            cast(FeatureSelection, model.selection).scales.copy_(scales)
        freeze(model)
        unfreeze(model.head)
        return model

    def loss(self, model: nn.Module, batch: Mapping[str, Tensor], labels: Tensor,
             indices: Tensor) -> Tensor:
        """Cross-entropy, the frozen backbone kept in eval mode (its features were ranked so)."""
        model.backbone.eval()
        return super().loss(model, batch, labels, indices)

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The PTM, with the head on the selected features."""
        if self._selection is None:
            raise MethodError(f"method '{self.name}': build() selects the features and must run "
                              "before architecture()")
        return ArchitectureConfig(ptm=ctx.ptm.spec, num_classes=ctx.num_classes,
                                  feature_selection=self._selection)

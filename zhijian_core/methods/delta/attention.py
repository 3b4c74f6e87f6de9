"""DELTA's channel attention: how much the source model's task loss rises when a channel is off."""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zhijian_core.ptm.backbone import Backbone


def fit_probe(features: Tensor, labels: Tensor, num_classes: int, *, weight_decay: float = 1e-4,
              steps: int = 100) -> nn.Linear:
    """A linear classifier fitted on frozen features (L-BFGS on L2-regularised cross-entropy).

    DELTA measures channel importance with the source model and a discriminator trained on the
    target task over its frozen features; this is that discriminator.
    """
    features = features.detach().float().clone()  # a normal tensor, even from inference mode
    head = nn.Linear(features.shape[1], num_classes).to(features.device)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    optimizer = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=steps,
                                  line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(head(features), labels.to(features.device))
        loss = loss + 0.5 * weight_decay * head.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return head.requires_grad_(False)


def _channel_masker(channel: int):
    def hook(_module, _inputs, output):
        hidden = output[0] if isinstance(output, tuple) else output
        dim = 1 if hidden.ndim == 4 else -1
        keep = torch.ones(hidden.shape[dim], dtype=hidden.dtype, device=hidden.device)
        keep[channel] = 0
        shape = [1] * hidden.ndim
        shape[dim] = -1
        masked = hidden * keep.view(shape)
        return (masked, *output[1:]) if isinstance(output, tuple) else masked
    return hook


def _num_channels(output: Tensor) -> int:
    return int(output.shape[1] if output.ndim == 4 else output.shape[-1])


@torch.no_grad()
def channel_loss_rises(backbone: Backbone, head: nn.Module, batch: Mapping[str, Tensor],
                       labels: Tensor, block: int) -> Tensor:
    """The rise of the source model's task loss when each channel of a block's output is zeroed.

    Li et al. 2019, section 3.3: ``L(z(x, w⁰∖j), y) − L(z(x, w⁰), y)``, with the loss of the
    source model (its backbone plus a head fitted on the task) and ``w⁰∖j`` the source model with
    channel ``j`` of the block's output set to zero; the cross-entropy is averaged over ``batch``.

    Args:
        backbone: The source backbone (frozen, in eval mode).
        head: A classifier on the backbone's pooled features, fitted on the task.
        batch: Input tensors of the examples used for the measurement.
        labels: Their labels.
        block: Index of the block group whose output channels are weighed.

    Returns:
        The rises ``(C,)``, float32 on the CPU.
    """
    group = backbone.block_groups()[block]
    captured: list[Tensor] = []
    handle = group.register_forward_hook(
        lambda _m, _i, out: captured.append(out[0] if isinstance(out, tuple) else out))
    try:
        base = F.cross_entropy(head(backbone(batch)).float(), labels)
    finally:
        handle.remove()
    rises = torch.empty(_num_channels(captured[0]), dtype=torch.float32)
    for channel in range(len(rises)):
        handle = group.register_forward_hook(_channel_masker(channel))
        try:
            rises[channel] = float(F.cross_entropy(head(backbone(batch)).float(), labels) - base)
        finally:
            handle.remove()
    return rises


def attention_weights(rises: Tensor, temperature: float) -> Tensor:
    """Channel weights ``softmax(standardise(rises) / temperature)``, summing to one.

    The paper weights channels by the softmax of their loss rises; as the authors' implementation
    does, the rises are first standardised (zero mean, unit standard deviation over the block's
    channels) and softened by a temperature (theirs: 5), so the weights depend neither on the
    scale of the loss nor on the number of examples. Equal rises give uniform weights.
    """
    rises = rises.float()
    spread = rises.std(unbiased=False)
    z = (rises - rises.mean()) / spread if bool(spread > 0) else torch.zeros_like(rises)
    return F.softmax(z / temperature, dim=0)

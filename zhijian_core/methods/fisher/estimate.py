"""The diagonal Fisher information of a classifier, from squared gradients of its log-likelihood."""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def diagonal_fisher(model: nn.Module, inputs: Mapping[str, Tensor],
                    parameters: Mapping[str, nn.Parameter]) -> dict[str, Tensor]:
    """``F = 1/N Σ_n Σ_c p(c|x_n) (∂ log p(c|x_n) / ∂θ)²`` for each parameter ``θ``.

    The expectation over the label is exact: every class ``c`` is weighted by the model's own
    predictive probability (the true Fisher of Matena & Raffel's section 2, not the "empirical"
    Fisher of the observed labels), so no labels are needed. Gradients are per example.

    Args:
        model: A classifier mapping a batch of named tensors to logits ``(B, C)`` (put in eval
            mode here, so dropout does not sample).
        inputs: Named input tensors ``(N, ...)``, ``N >= 1``.
        parameters: The parameters to estimate the Fisher of, by name (they must require grad).

    Returns:
        Name to float64 tensor of the parameter's shape.
    """
    model.eval()
    names = list(parameters)
    params = [parameters[name] for name in names]
    total = [torch.zeros_like(p, dtype=torch.float64) for p in params]
    count = next(iter(inputs.values())).shape[0]
    for i in range(count):
        log_probs = F.log_softmax(model({k: v[i:i + 1] for k, v in inputs.items()}).double(), -1)[0]
        probs = log_probs.detach().exp()
        for c in range(log_probs.shape[0]):
            grads = torch.autograd.grad(log_probs[c], params, retain_graph=True, allow_unused=True)
            for acc, grad in zip(total, grads):
                if grad is not None:
                    acc.add_(grad.double().pow(2), alpha=float(probs[c]))
    return {name: acc / count for name, acc in zip(names, total)}

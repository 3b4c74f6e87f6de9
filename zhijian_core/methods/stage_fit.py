"""A first training stage run by a method itself, before the trainer runs the last stage.

Two-stage Tuner methods (FitNet's hint stage, REFILLED's embedding stage) train part of the model on
an auxiliary objective first. The trainer builds its optimizer once for the final objective, so the
first stage runs here, in ``prepare``: AdamW without weight decay over the given parameters, seeded
shuffling, on the context's preprocessed training tensors. Parameters the objective does not reach
get no gradient and are left unchanged.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

import torch
from torch import Tensor, nn

from zhijian_core.data.dataset import Dataset
from zhijian_core.errors import MethodError
from zhijian_core.methods.base import MethodContext
from zhijian_core.ptm.loaded import LoadedPTM
from zhijian_core.train.tensors import TensorSet, iterate_batches, to_device

StageLoss = Callable[[Mapping[str, Tensor], Tensor, Tensor], Tensor]
"""``loss(batch, labels, indices)``: the stage's objective on one batch."""


def training_tensors(method: str, ctx: MethodContext, ptm: LoadedPTM, data: Dataset) -> TensorSet:
    """``data`` preprocessed for ``ptm`` by the context, with its labels."""
    if ctx.tensors is None:
        raise MethodError(f"method '{method}' trains a first stage itself and needs the "
                          "context's preprocessed tensors, which this context does not provide")
    inputs = dict(ctx.tensors(ptm, data))
    return TensorSet(inputs, torch.as_tensor(data.labels, dtype=torch.long))


def fit_stage(model: nn.Module, parameters: Iterable[nn.Parameter], data: TensorSet,
              loss: StageLoss, *, epochs: int, batch_size: int, lr: float, seed: int,
              device: torch.device) -> list[float]:
    """Minimise ``loss`` over ``data`` for ``epochs`` epochs; return each epoch's mean loss.

    ``model`` is in training mode during the stage and back in its former mode afterwards.
    """
    params = [p for p in parameters if p.requires_grad]
    if not params:
        raise ValueError("the first stage has no parameter to train")
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.train()
    history = []
    try:
        for _ in range(epochs):
            total, count = 0.0, 0
            for index in iterate_batches(len(data), batch_size, generator):
                batch = to_device(data.batch(index), device)
                labels = data.labels[index].to(device)
                value = loss(batch, labels, index)
                optimizer.zero_grad(set_to_none=True)
                value.backward()
                optimizer.step()
                total += float(value.detach()) * len(index)
                count += len(index)
            history.append(total / max(count, 1))
    finally:
        model.train(was_training)
    return history

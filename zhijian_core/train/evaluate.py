"""Inference over a tensor set, and the serving-cost measurements of a finalized model."""

from __future__ import annotations

import statistics
import time

import torch
from torch import Tensor, nn

from zhijian_core.train.tensors import TensorSet, iterate_batches, to_device


@torch.inference_mode()
def predict_logits(model: nn.Module, data: TensorSet, batch_size: int,
                   device: torch.device) -> Tensor:
    """Logits ``(N, C)`` of ``model`` (put in eval mode) on every example, on the CPU, float32."""
    was_training = model.training
    model.eval()
    outputs = [model(to_device(data.batch(index), device)).float().cpu()
               for index in iterate_batches(len(data), batch_size, None)]
    model.train(was_training)
    return torch.cat(outputs) if outputs else torch.empty(0)


@torch.inference_mode()
def measure_latency(model: nn.Module, data: TensorSet, batch_size: int, device: torch.device,
                    repeats: int, warmup: int = 3) -> float:
    """Median wall seconds of one forward pass of ``model`` on ``batch_size`` examples.

    Pass ``i`` takes the ``i``-th consecutive slice of real examples (text keeps its real lengths),
    after ``warmup`` passes, with CUDA synchronised around each pass.
    """
    model.eval()
    size = min(batch_size, len(data))
    times = []
    for i in range(warmup + repeats):
        start_index = (i * size) % max(1, len(data) - size + 1)
        batch = to_device(data.batch(torch.arange(start_index, start_index + size)), device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        model(batch)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)

"""The one trainer: AdamW or SGD, warm-up then cosine, clipping, early stopping on validation.

Model selection uses the validation split only; the test split is never seen here. Mixed
precision (bf16 where supported, else fp16 with a gradient scaler) is used on CUDA only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from zhijian_core.methods.base import ReuseMethod
from zhijian_core.train.config import TrainConfig
from zhijian_core.train.evaluate import predict_logits
from zhijian_core.train.metrics import quality_from_predictions
from zhijian_core.train.tensors import TensorSet, iterate_batches, to_device
from zhijian_core.progress import progress


@dataclass
class FitReport:
    """What training did: epochs and steps run, per-epoch timings and validation history."""

    epochs: int = 0
    steps: int = 0
    epoch_seconds: list[float] = field(default_factory=list)
    val_history: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_val: float = float("-inf")
    stopped_early: bool = False


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def _schedule(total_steps: int, config: TrainConfig):
    warmup = int(round(config.warmup_ratio * total_steps))

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if config.schedule == "constant":
            return 1.0
        progress_ = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress_)))

    return factor


def _autocast_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    if device.type != "cuda" or config.mixed_precision == "off":
        return None
    if config.mixed_precision == "fp16":
        return torch.float16
    if config.mixed_precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def _freeze_norm_stats(model: nn.Module, keep_all: bool) -> None:
    """Keep batch-norm statistics fixed (they are PTM knowledge): of frozen layers, or of every
    layer when ``keep_all`` (see :meth:`ReuseMethod.keeps_norm_statistics`)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            if keep_all or not any(p.requires_grad for p in module.parameters(recurse=False)):
                module.eval()


def _selection_score(model: nn.Module, val: TensorSet, label_names: tuple[str, ...],
                     config: TrainConfig, device: torch.device) -> float:
    logits = predict_logits(model, val, config.eval_batch_size, device)
    quality = quality_from_predictions(val.labels.numpy(), logits.argmax(-1).numpy(), label_names)
    return getattr(quality, config.selection_metric)


def fit(method: ReuseMethod, model: nn.Module, train: TensorSet, val: TensorSet,
        label_names: tuple[str, ...], config: TrainConfig, device: torch.device,
        seed: int) -> FitReport:
    """Train ``model`` with ``method``'s loss; leave it holding the best-on-validation weights."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"method '{method.name}' left no parameter to train")
    if config.optimizer == "adamw":
        optimizer = torch.optim.AdamW(_param_groups(model, config.weight_decay), lr=config.lr)
    else:
        optimizer = torch.optim.SGD(_param_groups(model, config.weight_decay), lr=config.lr,
                                    momentum=config.momentum)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(total_steps, config))
    amp_dtype = _autocast_dtype(config, device)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    generator = torch.Generator().manual_seed(seed)
    report = FitReport()
    best_state: dict[str, torch.Tensor] | None = None
    since_best = 0

    with progress(f"{method.name}: training", total_steps) as advance:
        for epoch in range(config.epochs):
            model.train()
            _freeze_norm_stats(model, method.keeps_norm_statistics())
            start = time.perf_counter()
            for index in iterate_batches(len(train), config.batch_size, generator):
                batch = to_device(train.batch(index), device)
                labels = train.labels[index].to(device)
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    loss = method.loss(model, batch, labels, index)
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                else:
                    loss.backward()
                if config.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                scheduler.step()
                report.steps += 1
                advance()
                if report.steps >= total_steps:
                    break
            report.epoch_seconds.append(time.perf_counter() - start)
            report.epochs = epoch + 1
            score = _selection_score(model, val, label_names, config, device)
            report.val_history.append(score)
            if score > report.best_val:
                report.best_val, report.best_epoch, since_best = score, epoch + 1, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                since_best += 1
            if report.steps >= total_steps:
                break
            if config.patience is not None and since_best >= config.patience:
                report.stopped_early = True
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return report

"""Tiny, seeded backbones, data and a :class:`MethodContext` with real, simple callables.

Backbones are built directly (no PTM loader): a 2-layer BERT (hidden 32, no pooler, no dropout),
timm's ``test_vit`` at 32 px and timm's ``test_efficientnet``, the timm ones keeping their source
(ImageNet) classifier as the loader does. PTM specs are ``tiny-<kind>`` (plus ``tiny-text-small``,
a 1-layer BERT student); the weights depend only on the spec and a seed, so ``load_ptm`` of a spec
with another seed gives the random-init skeleton used to rebuild finalized models.

Text inputs are strings of token ids ("12 7 40"), images uint8 arrays; ``tensorize`` turns them into
the backbone's tensors as the real preprocessing would.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from zhijian_core.data.dataset import Dataset, Splits
from zhijian_core.methods.base import MethodContext, ReuseMethod
from zhijian_core.model import ReuseClassifier
from zhijian_core.preprocess.spec import ImagePreprocessSpec, TextPreprocessSpec
from zhijian_core.ptm.backbone import (Backbone, TimmCNNBackbone, TimmViTBackbone,
                                       TransformersTextBackbone)
from zhijian_core.ptm.loaded import LoadedPTM

KINDS = ("text", "vit", "cnn")
NUM_CLASSES = 3
IMAGE_SIDE = 32
VOCAB = 100
PER_CLASS = {"train": 3, "val": 1, "test": 1, "rest": 2}
"""Examples per class in each split: 9 train, 3 val, 3 test, 6 rest."""


def tiny_bert(layers: int = 2) -> nn.Module:
    """A random BERT encoder: hidden 32, 2 heads, intermediate 64, vocab 100, 32 positions."""
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=layers,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=32,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return BertModel(config, add_pooling_layer=False)


def _backbone(spec: str) -> Backbone:
    import timm

    if spec == "tiny-text":
        return TransformersTextBackbone(tiny_bert(2))
    if spec == "tiny-text-small":
        return TransformersTextBackbone(tiny_bert(1))
    if spec == "tiny-vit":
        return TimmViTBackbone(timm.create_model("test_vit", pretrained=False, img_size=IMAGE_SIDE))
    if spec == "tiny-cnn":
        return TimmCNNBackbone(timm.create_model("test_efficientnet", pretrained=False))
    raise KeyError(f"unknown tiny PTM spec {spec!r}")


def load_tiny_ptm(spec: str, seed: int = 0) -> LoadedPTM:
    """The tiny PTM named ``spec`` with weights drawn from ``seed`` (global RNG left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        backbone = _backbone(spec)
    preprocess = (TextPreprocessSpec() if backbone.kind == "text"
                  else ImagePreprocessSpec(resize=IMAGE_SIDE))
    return LoadedPTM(spec=spec, backbone=backbone, preprocess=preprocess, assets_dir=None,
                     identity=f"{spec} (random)", digest="random-init", licence=None,
                     pretrained=False)


def tiny_splits(kind: str) -> Splits:
    """Deterministic splits with class-dependent inputs (token ranges or colours)."""
    rng = np.random.default_rng(0)
    names = tuple(f"class{c}" for c in range(NUM_CLASSES))
    parts = {}
    for part, count in PER_CLASS.items():
        labels = np.repeat(np.arange(NUM_CLASSES), count)
        if kind == "text":
            inputs: list[str] | np.ndarray = [
                " ".join(str(t) for t in rng.integers(10 + 30 * c, 40 + 30 * c, rng.integers(3, 9)))
                for c in labels]
        else:
            base = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200]])[labels]
            noise = rng.integers(0, 50, (len(labels), IMAGE_SIDE, IMAGE_SIDE, 3))
            inputs = (base[:, None, None, :] + noise).astype(np.uint8)
        modality = "text" if kind == "text" else "image"
        parts[part] = Dataset(f"tiny-{kind}", modality, inputs, labels, names)
    return Splits(**parts, seed=0, fingerprint=f"tiny-{kind}")


PARITY = "-parity"
"""Suffix of the second tiny task: the same inputs labelled with the parity of their class."""


def tiny_task_splits(name: str) -> Splits:
    """Splits of ``tiny-<kind>`` or of its second task ``tiny-<kind>-parity`` (2 classes)."""
    kind = name.removeprefix("tiny-").removesuffix(PARITY)
    splits = tiny_splits(kind)
    if not name.endswith(PARITY):
        return splits
    parts = {part: Dataset(name, data.modality, data.inputs, data.labels % 2, ("even", "odd"))
             for part, data in (("train", splits.train), ("val", splits.val),
                                ("test", splits.test), ("rest", splits.rest))}
    return Splits(**parts, seed=0, fingerprint=name)


def tensorize(ptm: LoadedPTM, data: Dataset) -> dict[str, Tensor]:
    """The backbone's input tensors for ``data``, as the PTM's preprocessing would produce them."""
    spec = ptm.preprocess
    if isinstance(spec, TextPreprocessSpec):
        rows = [[int(t) for t in text.split()][: spec.max_length] for text in data.inputs]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), spec.pad_token_id, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return {"input_ids": ids, "attention_mask": mask}
    pixels = torch.from_numpy(np.asarray(data.inputs)).float() * spec.scale
    pixels = (pixels - torch.tensor(spec.mean)) / torch.tensor(spec.std)
    return {spec.input_name: pixels.permute(0, 3, 1, 2).contiguous()}


@torch.no_grad()
def run_eval(module: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """``module(batch)`` in eval mode, restoring the module's mode afterwards."""
    was_training = module.training
    module.eval()
    try:
        return module(batch)
    finally:
        module.train(was_training)


@dataclass
class Teachers:
    """What ``load_model`` resolved and how often ``logits_of`` ran (for the distillation tests)."""

    logits_calls: int = 0


TUNED_PREFIX = "run:tuned-"


def tuned_model(ptm: LoadedPTM, reference: str, seed: int = 0) -> ReuseClassifier:
    """``run:tuned-<i>[-<c>classes]``: as if fine-tuned from ``ptm`` (Merger ingredients).

    A copy of ``ptm``'s backbone with every weight moved by seeded noise (seed ``i``), and a
    seeded head of ``c`` classes (``NUM_CLASSES`` by default); ``ptm`` itself is untouched.
    """
    import copy
    import re

    match = re.fullmatch(re.escape(TUNED_PREFIX) + r"(\d+)(?:-(\d+)classes)?", reference)
    if match is None:
        raise KeyError(f"unknown model reference {reference!r}")
    index, classes = int(match.group(1)), int(match.group(2) or NUM_CLASSES)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1000 * (seed + 1) + index)
        backbone = copy.deepcopy(ptm.backbone)
        with torch.no_grad():
            for param in backbone.parameters():
                param.add_(0.05 * torch.randn_like(param))
        model = ReuseClassifier(backbone, classes)
    return model.eval()


def make_context(kind: str, seed: int = 0) -> MethodContext:
    """A context on the tiny ``kind`` PTM whose callables really run the models.

    ``load_model`` knows ``run:teacher`` (a random classifier on another draw of the same PTM),
    ``run:teacher-5-classes``, ``run:teacher-other-preprocess`` and ``run:tuned-<i>[-<c>classes]``
    (see :func:`tuned_model`).
    """
    ptm = load_tiny_ptm(f"tiny-{kind}", seed=seed)
    stats = Teachers()

    def encode(source: LoadedPTM, data: Dataset) -> Tensor:
        return run_eval(source.backbone, tensorize(source, data))

    def logits_of(module: nn.Module, source: LoadedPTM, data: Dataset) -> Tensor:
        stats.logits_calls += 1
        return run_eval(module, tensorize(source, data))

    def load_model(reference: str) -> tuple[nn.Module, LoadedPTM]:
        if reference.startswith(TUNED_PREFIX):
            return tuned_model(ptm, reference, seed), ptm
        source = load_tiny_ptm(f"tiny-{kind}", seed=seed + 1)
        classes = NUM_CLASSES
        if reference == "run:teacher-5-classes":
            classes = 5
        elif reference == "run:teacher-other-preprocess":
            change = {"max_length": 64} if kind == "text" else {"resize": 40, "crop": IMAGE_SIDE}
            source = dataclasses.replace(source, preprocess=source.preprocess.model_copy(
                update=change))
        elif reference != "run:teacher":
            raise KeyError(f"unknown model reference {reference!r}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 2)
            teacher = ReuseClassifier(source.backbone, classes)
        return teacher.eval(), source

    return MethodContext(ptm=ptm, splits=tiny_splits(kind), num_classes=NUM_CLASSES,
                         device=torch.device("cpu"), seed=seed, load_model=load_model,
                         load_ptm=load_tiny_ptm, encode=encode, logits_of=logits_of,
                         extras={"teachers": stats}, tensors=tensorize,
                         task_splits=tiny_task_splits)


@dataclass
class Prepared:
    """A method built and prepared on a context, with its whole training data as one batch."""

    method: ReuseMethod
    ctx: MethodContext
    model: nn.Module
    batch: dict[str, Tensor]
    labels: Tensor
    indices: Tensor


def prepare_method(method: ReuseMethod, kind: str) -> Prepared:
    """Build and prepare ``method`` on the tiny ``kind`` context (seeded head initialisation)."""
    ctx = make_context(kind)
    method.check_applicable(method.target_ptm(ctx))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        model = method.build(ctx)
        method.prepare(model, ctx)
    data = method.training_data(ctx)
    batch = tensorize(method.target_ptm(ctx), data)
    labels = torch.as_tensor(data.labels, dtype=torch.long)
    return Prepared(method, ctx, model, batch, labels, torch.arange(len(data)))


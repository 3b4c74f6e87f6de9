"""Ingredients of the Merger methods: resolving, checking, splitting and reassembling models.

Methods that combine models (soups, WiSE-FT, task arithmetic, TIES, Fisher merging) take their
ingredients from earlier runs or PTMs named in their config (``run:<label or run id>`` or a PTM
spec), resolved through :attr:`MethodContext.load_model`. Weight merging needs ingredients that are
classifiers on the comparison's own PTM architecture (same parameter names and shapes) and read the
same input tensors; this module checks that and moves weights between models and state dicts. The
math lives in :mod:`zhijian_core.methods.merge_math`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from torch import Tensor, nn

from zhijian_core.errors import MethodError, NotApplicableError
from zhijian_core.methods.base import MethodContext
from zhijian_core.methods.kd.transfer import preprocessing_difference
from zhijian_core.methods.merge_math import StateDict
from zhijian_core.model import ReuseClassifier
from zhijian_core.ptm.backbone import Backbone, freeze
from zhijian_core.ptm.loaded import LoadedPTM
from zhijian_core.train.metrics import quality_from_predictions


@dataclass(frozen=True)
class Ingredient:
    """A resolved ingredient.

    Attributes:
        reference: How the config named it.
        model: The finalized classifier (never modified).
        ptm: The PTM it reads its inputs with.
    """

    reference: str
    model: nn.Module
    ptm: LoadedPTM


def resolve(ctx: MethodContext, method: str, references: Sequence[str]) -> list[Ingredient]:
    """Load every reference through ``ctx.load_model`` and check it reads the target's inputs.

    Raises:
        NotApplicableError: An ingredient's preprocessing differs from the comparison PTM's.
    """
    out = []
    for reference in references:
        model, ptm = ctx.load_model(reference)
        difference = preprocessing_difference(ptm, ctx.ptm)
        if difference is not None:
            raise NotApplicableError(
                f"method '{method}' cannot combine ingredient '{reference}' ({ptm.spec}) with "
                f"{ctx.ptm.spec}: {difference}; every ingredient reads the same input tensors")
        out.append(Ingredient(reference, model, ptm))
    return out


def check_mergeable(method: str, ingredients: Sequence[Ingredient], base: LoadedPTM,
                    num_classes: int | None) -> None:
    """Check each ingredient is a classifier tuned from ``base`` (and of ``num_classes``).

    Weight merging assumes one pre-trained starting point: every ingredient's PTM must have
    ``base``'s content digest, and its backbone ``base``'s parameter names and shapes.

    Args:
        method: Method name, for messages.
        ingredients: The resolved ingredients.
        base: The comparison PTM, which every ingredient must have been tuned from.
        num_classes: Classes every ingredient must have; ``None``: any (task-specific heads).

    Raises:
        MethodError: An ingredient is not a :class:`ReuseClassifier`, comes from another PTM, has
            another architecture, feature normalisation or number of classes.
    """
    shapes = {name: tuple(t.shape) for name, t in base.backbone.state_dict().items()}
    first_norm = None
    for ing in ingredients:
        model = ing.model
        if not isinstance(model, ReuseClassifier):
            raise MethodError(f"method '{method}' merges weights, but ingredient '{ing.reference}' "
                              f"is a {type(model).__name__}, not a classifier with one backbone "
                              "and a linear head")
        if ing.ptm.digest != base.digest:
            raise MethodError(
                f"method '{method}': ingredient '{ing.reference}' was tuned from {ing.ptm.spec} "
                f"(digest {ing.ptm.digest[:12]}), not from the comparison PTM {base.spec} (digest "
                f"{base.digest[:12]}); merge models tuned from the same pre-trained weights")
        theirs = {name: tuple(t.shape) for name, t in model.backbone.state_dict().items()}
        if theirs != shapes:
            differ = sorted(set(theirs) ^ set(shapes)) or sorted(
                n for n in shapes if theirs[n] != shapes[n])
            raise MethodError(
                f"method '{method}': ingredient '{ing.reference}' ({ing.ptm.spec}) does not have "
                f"the architecture of the comparison PTM (first differences: {differ[:3]}); merge "
                "models tuned from the same PTM")
        if getattr(model, "selection", None) is not None:
            raise MethodError(f"method '{method}' cannot merge ingredient '{ing.reference}': its "
                              "head reads features selected from intermediate layers (Head2Toe)")
        first_norm = model.feature_norm if first_norm is None else first_norm
        if model.feature_norm != first_norm:
            raise MethodError(f"method '{method}': ingredients normalise features differently "
                              f"({first_norm} vs {model.feature_norm} for '{ing.reference}')")
        if num_classes is not None and model.num_classes != num_classes:
            raise MethodError(
                f"method '{method}': ingredient '{ing.reference}' has {model.num_classes} classes "
                f"but this task has {num_classes}; its ingredients must be tuned on this task")


def float_state(module: nn.Module) -> dict[str, Tensor]:
    """The floating-point entries of ``module``'s state dict (parameters and buffers), detached."""
    return {name: t.detach() for name, t in module.state_dict().items() if t.is_floating_point()}


def parameter_names(module: nn.Module) -> set[str]:
    """Names of ``module``'s parameters (its state dict's other entries are buffers)."""
    return {name for name, _ in module.named_parameters()}


def merge_backbones(base: Backbone, backbones: Sequence[nn.Module],
                    merge_parameters: Callable[[dict[str, Tensor], list[dict[str, Tensor]]],
                                               dict[str, Tensor]]) -> Backbone:
    """A copy of ``base`` whose parameters are ``merge_parameters(base's, each ingredient's)``.

    Floating-point buffers (BatchNorm running statistics) are not weights one can add task
    vectors to: they are averaged uniformly over the ingredients. Other buffers (integer
    counters, position ids) are kept from ``base``.
    """
    params = parameter_names(base)
    states = [float_state(b) for b in backbones]
    base_state = float_state(base)
    merged = merge_parameters({n: t for n, t in base_state.items() if n in params},
                              [{n: t for n, t in s.items() if n in params} for s in states])
    buffers = [n for n in base_state if n not in params]
    for name in buffers:
        merged[name] = sum(s[name].double() for s in states).div(len(states)).to(
            base_state[name].dtype)
    return with_state(base, merged)


def with_state(module: nn.Module, state: StateDict) -> nn.Module:
    """A frozen deep copy of ``module`` with the entries of ``state`` loaded (others unchanged)."""
    out = copy.deepcopy(module)
    missing = set(state) - set(out.state_dict())
    if missing:
        raise MethodError(f"merged weights name entries the model lacks: {sorted(missing)[:3]}")
    out.load_state_dict({**out.state_dict(), **state})
    freeze(out)
    return out.eval()


def classifier(backbone: Backbone, source: ReuseClassifier) -> ReuseClassifier:
    """A frozen :class:`ReuseClassifier` on ``backbone`` with a copy of ``source``'s head (and
    feature normalisation, its centre included): one task's head on a merged backbone."""
    model = ReuseClassifier(backbone, source.num_classes, source.feature_norm)  # type: ignore[arg-type]
    own = {name: t for name, t in source.state_dict().items() if not name.startswith("backbone.")}
    model.load_state_dict({**model.state_dict(), **own})
    freeze(model)
    return model.eval()


def validation_score(ctx: MethodContext, model: nn.Module, ptm: LoadedPTM) -> float:
    """Macro-F1 of ``model`` on the validation split (the model-selection metric of the protocol).

    Raises:
        MethodError: The validation split is empty.
    """
    val = ctx.splits.val
    if len(val) == 0:
        raise MethodError("selection on validation needs a validation split; set val_size > 0")
    logits = ctx.logits_of(model, ptm, val)
    quality = quality_from_predictions(np.asarray(val.labels), logits.argmax(-1).cpu().numpy(),
                                       val.label_names)
    return float(quality.macro_f1)

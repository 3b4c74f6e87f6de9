"""Contract checks of the Merger methods, used by ``test_contract.py``'s shared table.

``CLOSED_FORM_CHECKS``: for a method that does not train, its prepared model equals the closed
form computed here by hand (the nearest-class-mean check of ``ncm`` stays in ``test_contract``).
``OWN_MODULE_CHECKS``: for a method whose finalized module is not a ``ReuseClassifier`` (kNN, an
ensemble), the plain-module and rebuild checks against its own architecture description.
"""

from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tests.methods.conftest import Prepared, load_tiny_ptm, run_eval, tensorize
from zhijian_core.data.dataset import Dataset
from zhijian_core.methods.fisher.estimate import diagonal_fisher
from zhijian_core.methods.ingredients import validation_score
from zhijian_core.methods.knn.module import KNNArchitecture, rebuild_knn
from zhijian_core.methods.logit_ensemble.module import EnsembleArchitecture, rebuild_ensemble
from zhijian_core.methods.merge_math import fisher_weighted_average, ties_merge
from zhijian_core.model import ArchitectureConfig, ReuseClassifier


def _parts(prepared: Prepared) -> list[Dataset]:
    splits = prepared.ctx.splits
    return [splits.train, splits.val, splits.test, splits.rest]


def _outputs_match(prepared: Prepared, reference: nn.Module, atol: float = 1e-5) -> None:
    """``prepared.model`` and ``reference`` give the same logits on every split."""
    for part in _parts(prepared):
        batch = tensorize(prepared.ctx.ptm, part)
        torch.testing.assert_close(run_eval(prepared.model, batch), run_eval(reference, batch),
                                   atol=atol, rtol=1e-5)


def _ingredients(prepared: Prepared, references: list[str]) -> list[ReuseClassifier]:
    return [prepared.ctx.load_model(ref)[0] for ref in references]  # type: ignore[misc]


def _with(model: nn.Module, state: dict[str, Tensor]) -> nn.Module:
    out = copy.deepcopy(model)
    out.load_state_dict({**out.state_dict(), **state})
    return out.eval()


def check_simpleshot(prepared: Prepared) -> None:
    """Predictions are the nearest class mean of centred, L2-normalised features (by hand)."""
    ctx = prepared.ctx
    raw = ctx.encode(ctx.ptm, ctx.splits.train)
    center = raw.mean(0)

    def cl2n(data: Dataset) -> Tensor:
        return F.normalize(ctx.encode(ctx.ptm, data) - center, dim=-1)

    labels = torch.as_tensor(ctx.splits.train.labels)
    train = cl2n(ctx.splits.train)
    means = torch.stack([train[labels == c].mean(0) for c in range(ctx.num_classes)])
    for part in _parts(prepared):
        expected = torch.cdist(cl2n(part), means).argmin(-1)
        got = run_eval(prepared.model, tensorize(ctx.ptm, part)).argmax(-1)
        assert torch.equal(got, expected)


def check_knn(prepared: Prepared) -> None:
    """Logits are the log vote shares of the k most cosine-similar training examples (by hand)."""
    ctx, config = prepared.ctx, prepared.method.config
    support = F.normalize(ctx.encode(ctx.ptm, ctx.splits.train), dim=-1)
    labels = ctx.splits.train.labels
    for part in _parts(prepared):
        queries = F.normalize(ctx.encode(ctx.ptm, part), dim=-1)
        expected = torch.zeros(len(part), ctx.num_classes)
        for i, query in enumerate(queries):
            sims = [(float(query @ s), j) for j, s in enumerate(support)]
            top = sorted(sims, key=lambda t: -t[0])[: config.k]
            for sim, j in top:
                weight = (torch.exp(torch.tensor((sim - top[0][0]) / config.temperature))
                          if config.weighting == "similarity" else torch.tensor(1.0))
                expected[i, labels[j]] += weight
        expected = torch.log((expected / expected.sum(-1, keepdim=True)).clamp_min(1e-9))
        got = run_eval(prepared.model, tensorize(ctx.ptm, part))
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def check_logit_ensemble(prepared: Prepared) -> None:
    """Outputs are the mean logits, or the log mean probabilities, of the members (by hand)."""
    members = _ingredients(prepared, prepared.method.config.ingredients)
    for part in _parts(prepared):
        batch = tensorize(prepared.ctx.ptm, part)
        logits = [run_eval(m, batch) for m in members]
        if prepared.method.config.combine == "logits":
            expected = sum(logits) / len(logits)
        else:
            expected = torch.log(sum(torch.softmax(x, -1) for x in logits) / len(logits))
        torch.testing.assert_close(run_eval(prepared.model, batch), expected, atol=1e-5, rtol=1e-5)


def check_soup(prepared: Prepared) -> None:
    """The soup is the entry-wise mean of its ingredients; greedy: no worse than the best one."""
    method, ctx = prepared.method, prepared.ctx
    config = method.config
    models = dict(zip(config.ingredients, _ingredients(prepared, config.ingredients)))
    kept = [models[ref] for ref in method.kept]
    if config.recipe == "uniform":
        assert method.kept == config.ingredients
    states = [m.state_dict() for m in kept]
    mean = {name: sum(s[name] for s in states) / len(states)
            for name, t in states[0].items() if t.is_floating_point()}
    _outputs_match(prepared, _with(kept[0], mean))
    if config.recipe == "greedy":
        soup = validation_score(ctx, prepared.model, ctx.ptm)
        assert all(soup >= validation_score(ctx, m, ctx.ptm) for m in models.values())


def check_wise_ft(prepared: Prepared) -> None:
    """The model is ``(1 - α) θ_zero_shot + α θ_fine_tuned``, with the best ``α`` on validation."""
    method, ctx = prepared.method, prepared.ctx
    fine_tuned = _ingredients(prepared, [method.config.fine_tuned])[0]
    zero_shot = method.zero_shot_end(ctx)
    a = method.alpha
    ft, zs = fine_tuned.state_dict(), zero_shot.state_dict()
    mixed = {n: (1 - a) * zs[n] + a * ft[n] for n in ft if ft[n].is_floating_point()}
    _outputs_match(prepared, _with(fine_tuned, mixed))
    if method.config.alpha is None:
        def score(alpha: float) -> float:
            state = {n: (1 - alpha) * zs[n] + alpha * ft[n] for n in mixed}
            return validation_score(ctx, _with(fine_tuned, state), ctx.ptm)
        assert score(a) >= max(score(other) for other in method.config.alphas) - 1e-12


def _check_task_merge(prepared: Prepared, merge: Callable[[dict, list[dict], list], dict]) -> None:
    """The head is the task's; backbone weights are ``merge``; BN statistics the ingredients' mean."""
    method, ctx = prepared.method, prepared.ctx
    ingredients = _ingredients(prepared, method.config.ingredients)
    task = ingredients[method.config.task_index]
    base = ctx.ptm.backbone
    params = {n for n, _ in base.named_parameters()}
    merged = merge({n: t for n, t in base.state_dict().items() if n in params},
                   [{n: t for n, t in m.backbone.state_dict().items() if n in params}
                    for m in ingredients], ingredients)
    for name, t in base.state_dict().items():
        if t.is_floating_point() and name not in params:
            merged[name] = sum(m.backbone.state_dict()[name] for m in ingredients) / len(ingredients)
    reference = ReuseClassifier(copy.deepcopy(base), task.num_classes)
    reference.backbone.load_state_dict({**base.state_dict(), **merged})
    reference.head.load_state_dict(task.head.state_dict())
    _outputs_match(prepared, reference.eval())


def check_task_arithmetic(prepared: Prepared) -> None:
    """Backbone ``θ_PTM + λ Σ_i (θ_i - θ_PTM)``, written out entry by entry."""
    lam = prepared.method.config.scaling
    _check_task_merge(prepared, lambda base, tuned, _: {
        n: base[n] + lam * sum(t[n] - base[n] for t in tuned) for n in base})


def check_ties(prepared: Prepared) -> None:
    """Backbone is TIES of the task vectors (the math itself is checked by hand in test_ties)."""
    config = prepared.method.config
    _check_task_merge(prepared, lambda base, tuned, _: ties_merge(
        base, [{n: t[n].double() - base[n].double() for n in base} for t in tuned],
        config.density, config.scaling))


def check_fisher(prepared: Prepared) -> None:
    """Backbone is the Fisher-weighted mean, with Fishers from the ingredients on train inputs."""
    config, ctx = prepared.method.config, prepared.ctx
    train = ctx.splits.train
    count = min(config.fisher_examples, len(train))
    chosen = np.sort(np.random.default_rng(ctx.seed).permutation(len(train))[:count])

    def merge(base: dict, tuned: list[dict], models: list) -> dict:
        fishers = []
        for model in models:
            own = copy.deepcopy(model)
            params = {n: p.requires_grad_(True) for n, p in own.backbone.named_parameters()}
            fishers.append(diagonal_fisher(own, tensorize(ctx.ptm, train.subset(chosen)), params))
        return fisher_weighted_average(tuned, fishers, config.floor)
    _check_task_merge(prepared, merge)


CLOSED_FORM_CHECKS: dict[str, Callable[[Prepared], None]] = {
    "simpleshot": check_simpleshot,
    "knn": check_knn,
    "logit_ensemble": check_logit_ensemble,
    "soup": check_soup,
    "wise_ft": check_wise_ft,
    "task_arithmetic": check_task_arithmetic,
    "ties": check_ties,
    "fisher": check_fisher,
}


def _plain_and_equal(prepared: Prepared, final: nn.Module, expected: Tensor,
                     arch: ArchitectureConfig, rebuilt: nn.Module) -> None:
    assert type(final) is type(rebuilt)
    assert not any(m.training for m in final.modules())
    assert not any(p.requires_grad for p in final.parameters())
    with torch.no_grad():
        torch.testing.assert_close(final(prepared.batch), expected, atol=1e-5, rtol=1e-5)
    assert type(arch).model_validate_json(arch.model_dump_json()) == arch
    assert list(rebuilt.state_dict()) == list(final.state_dict())
    rebuilt.load_state_dict(final.state_dict())
    torch.testing.assert_close(run_eval(rebuilt, prepared.batch), expected, atol=1e-5, rtol=1e-5)


def check_knn_module(prepared: Prepared, final: nn.Module, expected: Tensor) -> None:
    """A plain kNN module, rebuilt from its :class:`KNNArchitecture` on a random skeleton."""
    arch = prepared.method.architecture(prepared.ctx)
    assert isinstance(arch, KNNArchitecture)
    rebuilt = rebuild_knn(arch, load_tiny_ptm(arch.ptm, seed=99).backbone)
    _plain_and_equal(prepared, final, expected, arch, rebuilt)


def check_ensemble_module(prepared: Prepared, final: nn.Module, expected: Tensor) -> None:
    """A plain ensemble module, rebuilt from its :class:`EnsembleArchitecture`."""
    arch = prepared.method.architecture(prepared.ctx)
    assert isinstance(arch, EnsembleArchitecture)
    rebuilt = rebuild_ensemble(arch, lambda spec: load_tiny_ptm(spec, seed=99).backbone)
    _plain_and_equal(prepared, final, expected, arch, rebuilt)


OWN_MODULE_CHECKS: dict[str, Callable[[Prepared, nn.Module, Tensor], None]] = {
    "knn": check_knn_module,
    "logit_ensemble": check_ensemble_module,
}

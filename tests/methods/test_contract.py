"""One table of (method, config, backbone) cases run through the shared contract checks.

(a) exactly the declared parameters train, and each gets a non-zero gradient (LoRA's ``A`` only
after the first step, since ``B`` starts at zero); (b) one AdamW step lowers the method's own loss
on a fixed batch (nearest class mean: predictions are the hand-computed nearest means); (c)
``finalize`` returns a plain ``ReuseClassifier`` in eval mode, without ``peft`` modules, with the
trained model's outputs and the state-dict keys of the skeleton rebuilt from ``architecture()``;
(d) a method that does not apply raises :class:`NotApplicableError` naming method and backbone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from tests.methods.conftest import (KINDS, Prepared, load_tiny_ptm, make_context, prepare_method,
                                    run_eval, tensorize)
from tests.methods.merger_checks import CLOSED_FORM_CHECKS, OWN_MODULE_CHECKS
from zhijian_core.data.dataset import Dataset
from zhijian_core.errors import NotApplicableError
from zhijian_core.methods.base import Family, MethodConfig, MethodContext, ReuseMethod
from zhijian_core.methods.registry import BUILTIN_METHODS, create_method, get_method_class
from zhijian_core.model import ArchitectureConfig, ReuseClassifier, build_classifier

HEAD = r"^head\."
BACKBONE = r"^backbone\.model\."


@dataclass(frozen=True)
class Case:
    """One row: a method with a config on a backbone kind, and the parameters that must train."""

    method: str
    kind: str
    trainable: str | None
    """Regex matched (``re.search``) against parameter names; ``None``: nothing trains."""
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.config.items() if k != "teacher")
        return f"{self.method}[{extra}]-{self.kind}" if extra else f"{self.method}-{self.kind}"


LATE_GRADIENT = r"lora_A|\.branch\.down\."
"""Parameters whose gradient is zero until a zero-initialised partner has moved (one step)."""
_NOT_SOURCE_HEAD = r"^(?!backbone\.model\.(head|classifier)\.)"  # timm's ImageNet head stays frozen
CASES: list[Case] = [
    *(Case("linear_probe", kind, HEAD) for kind in KINDS),
    Case("partial_k", "text", f"{HEAD}|{BACKBONE}encoder\\.layer\\.1\\.", {"k": 1}),
    Case("partial_k", "vit", f"{HEAD}|{BACKBONE}(blocks\\.[45]|norm)\\.", {"k": 2}),
    Case("partial_k", "cnn", f"{HEAD}|{BACKBONE}(blocks\\.[34]|conv_head|bn2)\\.", {"k": 2}),
    *(Case("full_finetune", kind, _NOT_SOURCE_HEAD) for kind in KINDS),
    *(Case("lora", kind, f"{HEAD}|lora_") for kind in KINDS),
    Case("lora", "vit", f"{HEAD}|lora_", {"r": 2, "alpha": 4.0, "target_modules": ["qkv", "fc1"]}),
    *(Case("kd", kind, _NOT_SOURCE_HEAD, {"teacher": "run:teacher", "transfer_size": 3})
      for kind in KINDS),
    Case("kd", "text", ".", {"teacher": "run:teacher", "student": "tiny-text-small",
                             "transfer_size": 0}),
    *(Case("ncm", kind, None) for kind in KINDS),
    Case("ncm", "vit", None, {"normalize": False}),
    # Merger methods: closed forms and own module kinds are checked in merger_checks.py.
    *(Case("simpleshot", kind, None) for kind in KINDS),
    *(Case("knn", kind, None, {"k": 4}) for kind in KINDS),
    Case("knn", "cnn", None, {"k": 3, "weighting": "uniform"}),
    *(Case("logit_ensemble", kind, None, {"ingredients": ["run:tuned-1", "run:teacher"]})
      for kind in KINDS),
    Case("logit_ensemble", "vit", None, {"ingredients": ["run:tuned-1", "run:tuned-2"],
                                         "combine": "logits"}),
    *(Case("soup", kind, None, {"ingredients": ["run:tuned-1", "run:tuned-2"]}) for kind in KINDS),
    Case("soup", "text", None, {"ingredients": ["run:tuned-1", "run:tuned-2", "run:tuned-3"],
                                "recipe": "greedy"}),
    *(Case("wise_ft", kind, None, {"fine_tuned": "run:tuned-1", "alphas": [0.0, 0.5, 1.0]})
      for kind in KINDS),
    Case("wise_ft", "cnn", None, {"fine_tuned": "run:tuned-1", "alpha": 0.3}),
    *(Case(name, kind, None, {"ingredients": ["run:tuned-1", "run:tuned-2-5classes"]})
      for name in ("task_arithmetic", "ties") for kind in KINDS),
    Case("ties", "vit", None, {"ingredients": ["run:tuned-2-5classes", "run:tuned-1"],
                               "task": "run:tuned-1", "density": 0.5, "scaling": 0.7}),
    *(Case("fisher", kind, None, {"ingredients": ["run:tuned-1", "run:tuned-2-5classes"],
                                  "fisher_examples": 3}) for kind in KINDS),
    # Tuner methods (regularizers and distillation; their own tests are tests/methods/test_<name>.py).
    *(Case("fitnet", kind, _NOT_SOURCE_HEAD, {"teacher": "run:teacher"}) for kind in KINDS),
    Case("fitnet", "text", ".", {"teacher": "run:teacher", "student": "tiny-text-small",
                                 "hint_block": 1, "guided_block": 0}),
    *(Case("rkd", kind, _NOT_SOURCE_HEAD, {"teacher": "run:teacher"}) for kind in KINDS),
    *(Case("l2sp", kind, _NOT_SOURCE_HEAD) for kind in KINDS),
    *(Case("delta", kind, _NOT_SOURCE_HEAD) for kind in KINDS),
    Case("delta", "cnn", _NOT_SOURCE_HEAD, {"attention": False, "blocks": [1, -1]}),
    *(Case("bss", kind, _NOT_SOURCE_HEAD) for kind in KINDS),
    Case("bss", "text", _NOT_SOURCE_HEAD, {"k": 2}),
    *(Case("co_tuning", kind, ".") for kind in ("vit", "cnn")),  # its source head trains too
    *(Case("refilled", kind, _NOT_SOURCE_HEAD, {"teacher": "run:teacher"}) for kind in KINDS),
    # Architect methods (their own tests are tests/methods/test_<name>.py).
    *(Case("bitfit", kind, f"{HEAD}|{_NOT_SOURCE_HEAD}.*\\.bias$") for kind in KINDS),
    *(Case("ia3", kind, f"{HEAD}|ia3_l") for kind in KINDS),
    Case("ia3", "vit", f"{HEAD}|ia3_l", {"target_modules": ["qkv", "fc1"],
                                         "feedforward_modules": ["fc1"]}),
    *(Case("adapter", kind, f"{HEAD}|\\.adapter\\.|LayerNorm\\.|\\.norm\\d?\\.")
      for kind in ("text", "vit")),
    Case("adapter", "vit", f"{HEAD}|\\.adapter\\.", {"bottleneck": 4, "train_layer_norms": False}),
    *(Case("adaptformer", kind, f"{HEAD}|\\.branch\\.", {"bottleneck": 8})
      for kind in ("text", "vit")),
    *(Case("vpt", kind, f"{HEAD}|^backbone\\.prompts\\.tokens$", {"tokens": 3, "deep": deep})
      for kind in ("text", "vit") for deep in (False, True)),
    *(Case("ssf", kind, f"{HEAD}|\\.(scale|shift)$") for kind in KINDS),
    *(Case("ln_tuning", kind, f"{HEAD}|LayerNorm\\.|\\.norm\\d?\\.|\\.bn\\d\\.") for kind in KINDS),
    *(Case("head2toe", kind, HEAD, {"num_features": 16, "selection_steps": 20}) for kind in KINDS),
    Case("graft", "text", ".", {"blocks": 1}),
    # distillation into a graft: the student is the PTM's first block(s) plus a new head
    Case("kd", "text", ".", {"teacher": "run:teacher", "student_blocks": 1, "transfer_size": 3}),
    Case("kd", "cnn", _NOT_SOURCE_HEAD,
         {"teacher": "run:teacher", "student_blocks": 2, "transfer_size": 3}),
    *(Case("graft", kind, ".", {"blocks": 2}) for kind in ("vit", "cnn")),
    # joint training on the tiny task and its parity task (tests/methods/conftest.py)
    *(Case("multitask_finetune", kind, _NOT_SOURCE_HEAD,
           {"tasks": [f"tiny-{kind}", f"tiny-{kind}-parity"]}) for kind in KINDS),
]


def test_table_covers_every_builtin_method_on_every_kind() -> None:
    covered = {(case.method, case.kind) for case in CASES}
    assert covered == {(name, kind) for name in BUILTIN_METHODS for kind in KINDS
                       if kind in get_method_class(name).applies_to}


def _prepared(case: Case) -> Prepared:
    return prepare_method(create_method(case.method, case.config), case.kind)


def _step(prepared: Prepared, lr: float = 1e-4) -> None:
    params = [p for p in prepared.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    optimizer.zero_grad()
    _loss(prepared).backward()
    optimizer.step()


def _loss(prepared: Prepared) -> torch.Tensor:
    prepared.model.train()
    return prepared.method.loss(prepared.model, prepared.batch, prepared.labels, prepared.indices)


def _gradients(prepared: Prepared) -> dict[str, torch.Tensor | None]:
    prepared.model.zero_grad(set_to_none=True)
    _loss(prepared).backward()
    return {name: p.grad for name, p in prepared.model.named_parameters() if p.requires_grad}


def _is_zero(grad: torch.Tensor | None) -> bool:
    return grad is None or not bool(grad.abs().sum() > 0)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_exactly_the_declared_parameters_train_and_get_gradients(case: Case) -> None:
    prepared = _prepared(case)
    names = [name for name, _ in prepared.model.named_parameters()]
    trainable = {name for name, p in prepared.model.named_parameters() if p.requires_grad}
    expected = set() if case.trainable is None else {
        name for name in names if re.search(case.trainable, name)}
    assert trainable == expected
    if case.trainable is None:
        return
    assert trainable, "the pattern must select some parameters"
    grads = _gradients(prepared)
    # LoRA's B (AdaptFormer's up) starts at zero, so A (down) has no gradient before the first
    # step: say so, then step.
    late = {name for name in grads if re.search(LATE_GRADIENT, name)}
    assert all(_is_zero(grads[name]) for name in late)
    assert [name for name in trainable - late if _is_zero(grads[name])] == []
    if late:
        _step(prepared)
        grads = _gradients(prepared)
        assert [name for name in late if _is_zero(grads[name])] == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_one_step_lowers_the_loss(case: Case) -> None:
    prepared = _prepared(case)
    if not prepared.method.trains:
        CLOSED_FORM_CHECKS.get(case.method, _check_nearest_means)(prepared)
        return
    with torch.no_grad():
        before = float(_loss(prepared))
    _step(prepared)
    with torch.no_grad():
        after = float(_loss(prepared))
    assert after < before


def _check_nearest_means(prepared: Prepared) -> None:
    """Predictions on all splits equal the nearest class mean computed by hand."""
    ctx, normalize = prepared.ctx, prepared.method.config.normalize

    def features(data: Dataset) -> torch.Tensor:
        feats = ctx.encode(ctx.ptm, data)
        return F.normalize(feats, dim=-1) if normalize else feats

    train = features(ctx.splits.train)
    labels = torch.as_tensor(ctx.splits.train.labels)
    means = torch.stack([train[labels == c].mean(0) for c in range(ctx.num_classes)])
    for part in (ctx.splits.train, ctx.splits.val, ctx.splits.test, ctx.splits.rest):
        distances = torch.cdist(features(part), means)
        batch = tensorize(prepared.method.target_ptm(ctx), part)
        assert torch.equal(run_eval(prepared.model, batch).argmax(-1), distances.argmin(-1))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_finalize_gives_a_plain_rebuildable_classifier(case: Case) -> None:
    prepared = _prepared(case)
    if prepared.method.trains:
        _step(prepared)  # LoRA: makes B non-zero, so that merging has something to merge
        _step(prepared)
    expected = run_eval(prepared.model, prepared.batch)
    final = prepared.method.finalize(prepared.model)
    if case.method in OWN_MODULE_CHECKS:  # module kinds other than ReuseClassifier
        OWN_MODULE_CHECKS[case.method](prepared, final, expected)
        return

    assert type(final) is ReuseClassifier
    assert [type(m).__module__ for m in final.modules()
            if type(m).__module__.split(".")[0] == "peft"] == []
    assert not any("peft_config" in vars(m) for m in final.modules())
    assert not any(m.training for m in final.modules())
    with torch.no_grad():
        torch.testing.assert_close(final(prepared.batch), expected, atol=1e-5, rtol=1e-5)

    arch = prepared.method.architecture(prepared.ctx)
    assert ArchitectureConfig.model_validate_json(arch.model_dump_json()) == arch
    skeleton = load_tiny_ptm(arch.ptm, seed=99)  # another draw: the random-init skeleton
    rebuilt = build_classifier(arch, skeleton.backbone)
    assert list(rebuilt.state_dict()) == list(final.state_dict())
    rebuilt.load_state_dict(final.state_dict())
    torch.testing.assert_close(run_eval(rebuilt, prepared.batch), expected, atol=1e-5, rtol=1e-5)


class _TextOnlyConfig(MethodConfig):
    """No settings."""


class _TextOnly(ReuseMethod):
    """A fake method for the applicability check (not registered)."""

    name = "text_only_fake"
    family = Family.ARCHITECT
    paper = "none"
    config_class = _TextOnlyConfig
    applies_to = frozenset({"text"})

    def build(self, ctx: MethodContext) -> torch.nn.Module:
        raise AssertionError("never built")

    def finalize(self, model: torch.nn.Module) -> torch.nn.Module:
        raise AssertionError("never finalized")

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        raise AssertionError("never described")


NOT_APPLICABLE = [
    pytest.param(lambda: _TextOnly(_TextOnlyConfig()), "vit", "text_only_fake", id="fake-vit"),
    pytest.param(lambda: _TextOnly(_TextOnlyConfig()), "cnn", "text_only_fake", id="fake-cnn"),
    pytest.param(lambda: create_method("partial_k", {"k": 7}), "vit", "only 6 block groups",
                 id="partial_k-too-deep"),
    *(pytest.param(lambda: create_method("lora", {"target_modules": ["no_such_layer"]}), kind,
                   "no_such_layer", id=f"lora-no-target-{kind}") for kind in KINDS),
    pytest.param(lambda: create_method("co_tuning"), "text", "source classifier",
                 id="co_tuning-no-source-classifier"),
    pytest.param(lambda: create_method("fitnet", {"teacher": "run:teacher", "guided_block": 9}),
                 "vit", "only 6 block groups", id="fitnet-guided-too-deep"),
    pytest.param(lambda: create_method("delta", {"blocks": [0, 5]}), "text",
                 "only 2 block groups", id="delta-block-too-deep"),
    pytest.param(lambda: create_method("adapter"), "cnn", "attention and MLP sublayers",
                 id="adapter-cnn"),
    pytest.param(lambda: create_method("adaptformer"), "cnn", "MLP sublayer",
                 id="adaptformer-cnn"),
    *(pytest.param(lambda deep=deep: create_method("vpt", {"deep": deep}), "cnn",
                   "token sequence", id=f"vpt-cnn-deep={deep}") for deep in (False, True)),
    *(pytest.param(lambda: create_method("ia3", {"target_modules": ["no_such_layer"]}), kind,
                   "no_such_layer", id=f"ia3-no-target-{kind}") for kind in KINDS),
    pytest.param(lambda: create_method("graft", {"blocks": 7}), "vit", "only 6 block groups",
                 id="graft-too-deep"),
    pytest.param(lambda: create_method("head2toe", {"num_features": 65}), "text",
                 "only 64 pooled features", id="head2toe-too-many-features"),
]


@pytest.mark.parametrize(("factory", "kind", "detail"), NOT_APPLICABLE)
def test_not_applicable_names_method_and_backbone(factory, kind: str, detail: str) -> None:
    method = factory()
    ctx = make_context(kind)
    with pytest.raises(NotApplicableError) as info:
        method.check_applicable(ctx.ptm)
        method.build(ctx)
    message = str(info.value)
    assert f"'{method.name}'" in message and ctx.ptm.spec in message and detail in message


def test_applicable_builtins_do_not_refuse_any_kind() -> None:
    for kind in KINDS:
        ptm = make_context(kind).ptm
        for name in (n for n in BUILTIN_METHODS if kind in get_method_class(n).applies_to):
            config = next((case.config for case in CASES if case.method == name), {})
            create_method(name, config).check_applicable(ptm)

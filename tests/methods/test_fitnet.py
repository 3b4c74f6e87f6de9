"""FitNets: regressor shapes, the hint loss by hand, the hint stage, the student alone at last."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.methods.conftest import KINDS, make_context, prepare_method
from zhijian_core.errors import NotApplicableError
from zhijian_core.methods.fitnet import build_regressor, hint_loss
from zhijian_core.methods.hooks import output_of_block
from zhijian_core.methods.registry import create_method
from zhijian_core.model import ReuseClassifier


def _fitnet(**config):
    return create_method("fitnet", {"teacher": "run:teacher", **config})


def test_hint_loss_by_hand_with_padding_masked() -> None:
    hint = torch.ones(2, 2, 3)  # two examples, two tokens, three channels
    regressed = torch.zeros(2, 2, 3)
    regressed[1, 0] = 3.0
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    # example 0: one real token, Σ 1² = 3; example 1: (3-1)²·3 + 1²·3 = 15; ½ · mean(3, 15) = 4.5
    assert float(hint_loss(regressed, hint, mask)) == pytest.approx(4.5)
    assert float(hint_loss(regressed, hint)) == pytest.approx(0.5 * (6 + 15) / 2)


def test_hint_loss_takes_no_gradient_into_the_hint() -> None:
    hint = torch.ones(1, 2, 2, 2, requires_grad=True)
    regressed = torch.zeros(1, 2, 2, 2, requires_grad=True)
    hint_loss(regressed, hint).backward()
    assert hint.grad is None
    torch.testing.assert_close(regressed.grad, -torch.ones(1, 2, 2, 2))  # ½·2·(r − u)


def test_regressor_is_the_papers_convolution_or_a_token_wise_linear_map() -> None:
    conv = build_regressor(torch.zeros(1, 4, 5, 7), torch.zeros(1, 8, 3, 3))
    assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 5) and conv.out_channels == 8
    assert conv(torch.zeros(2, 4, 5, 7)).shape == (2, 8, 3, 3)
    linear = build_regressor(torch.zeros(1, 6, 16), torch.zeros(1, 6, 32))
    assert isinstance(linear, nn.Linear) and (linear.in_features, linear.out_features) == (16, 32)
    with pytest.raises(NotApplicableError, match="smaller than the hint"):
        build_regressor(torch.zeros(1, 4, 2, 2), torch.zeros(1, 8, 3, 3))
    with pytest.raises(NotApplicableError, match="5 tokens but the hint has 6"):
        build_regressor(torch.zeros(1, 5, 16), torch.zeros(1, 6, 16))
    with pytest.raises(NotApplicableError, match="do not mix"):
        build_regressor(torch.zeros(1, 5, 16), torch.zeros(1, 8, 3, 3))


@pytest.mark.parametrize("kind", KINDS)
def test_hint_loss_reaches_exactly_the_guided_part_and_the_regressor(kind: str) -> None:
    method = _fitnet(hint_epochs=0, guided_block=0, hint_block=1)
    prepared = prepare_method(method, kind)
    model, batch = prepared.model, prepared.batch
    teacher, _ = prepared.ctx.load_model("run:teacher")
    with torch.no_grad():
        regressor = build_regressor(output_of_block(model.backbone, batch, 0),
                                    output_of_block(teacher.backbone, batch, 1))
    model.train()
    method.hint_objective(model, regressor, teacher, 0, 1, batch).backward()
    assert all(bool(p.grad.abs().sum() > 0) for p in regressor.parameters())
    first = {id(p) for p in model.backbone.block_groups()[0].parameters()}
    above = {id(p) for g in model.backbone.block_groups()[1:] for p in g.parameters()}
    for name, p in model.named_parameters():
        if id(p) in first:
            assert p.grad is not None and bool(p.grad.abs().sum() > 0), name
        if id(p) in above or name.startswith("head."):
            assert p.grad is None, name  # above the guided block: not trained in stage 1


def test_the_hint_stage_lowers_the_hint_loss_and_leaves_the_upper_blocks_alone() -> None:
    ctx_model = prepare_method(_fitnet(hint_epochs=0), "vit").model
    method = _fitnet(hint_epochs=4, hint_lr=1e-3, guided_block=1, hint_block=2)
    prepared = prepare_method(method, "vit")
    assert len(method.hint_history) == 4
    assert method.hint_history[-1] < method.hint_history[0]
    trained = dict(prepared.model.named_parameters())
    for name, start in ctx_model.named_parameters():  # same seeded start, no hint stage
        if ".blocks.0." in name:
            assert not torch.equal(trained[name], start), name
        if ".blocks.3." in name or name.startswith("head."):
            assert torch.equal(trained[name], start), name


def test_stage_two_is_distillation_and_the_student_is_finalized_alone() -> None:
    method = _fitnet(student="tiny-text-small", hint_block=1, temperature=2.0, alpha=0.5)
    prepared = prepare_method(method, "text")
    final = method.finalize(prepared.model)
    assert type(final) is ReuseClassifier and not final.training
    student = method.target_ptm(prepared.ctx)
    assert student.spec == "tiny-text-small"
    assert sum(p.numel() for p in final.parameters()) == (
        sum(p.numel() for p in student.backbone.parameters()) + 33 * 3)


def test_a_teacher_for_other_classes_is_refused() -> None:
    with pytest.raises(Exception, match=r"logits of shape \(9, 5\).*task has 3 classes"):
        prepare_method(_fitnet(teacher="run:teacher-5-classes"), "cnn")


def test_a_hint_block_outside_the_teacher_is_refused() -> None:
    with pytest.raises(NotApplicableError, match="teacher 'run:teacher'.*only 2 block groups"):
        prepare_method(_fitnet(hint_block=4), "text")


def test_loss_before_prepare_is_an_error() -> None:
    method = _fitnet()
    model = method.build(make_context("text"))
    with pytest.raises(Exception, match="prepare\\(\\) must run before loss\\(\\)"):
        method.loss(model, {}, torch.tensor([0]), torch.tensor([0]))

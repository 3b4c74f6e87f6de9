"""Relational KD: distance and angle losses by hand, cached teacher embeddings, real gradients."""

from __future__ import annotations

import math

import pytest
import torch

from tests.methods.conftest import KINDS, prepare_method, run_eval
from zhijian_core.methods.registry import create_method
from zhijian_core.methods.rkd import rkd_angle_loss, rkd_distance_loss

STUDENT = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # right isosceles triangle
TEACHER = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])


def _huber(x: float) -> float:
    return 0.5 * x * x if abs(x) <= 1 else abs(x) - 0.5


def test_distance_loss_by_hand() -> None:
    s = [1.0, 1.0, math.sqrt(2)]  # d01, d02, d12 (each pair counted twice: ordered pairs)
    t = [1.0, 2.0, math.sqrt(5)]
    mu_s, mu_t = sum(s) / 3, sum(t) / 3
    expected = sum(_huber(a / mu_s - b / mu_t) for a, b in zip(s, t)) / 3
    assert float(rkd_distance_loss(STUDENT, TEACHER)) == pytest.approx(expected, abs=1e-6)


def test_distance_loss_ignores_scale_and_embedding_size() -> None:
    scaled = torch.cat([STUDENT * 5, torch.zeros(3, 4)], dim=1)  # wider and 5 times larger
    assert float(rkd_distance_loss(STUDENT, scaled)) == pytest.approx(0.0, abs=1e-7)


def test_angle_loss_by_hand() -> None:
    # student: angles 90° at point 0 and 45° at points 1 and 2; an equilateral teacher: 60° each
    equilateral = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, math.sqrt(3)]])
    cos45 = math.sqrt(2) / 2
    expected = (2 * _huber(0.0 - 0.5) + 4 * _huber(cos45 - 0.5)) / 6
    assert float(rkd_angle_loss(STUDENT, equilateral)) == pytest.approx(expected, abs=1e-6)
    assert float(rkd_angle_loss(STUDENT, STUDENT * 3)) == pytest.approx(0.0, abs=1e-7)


def test_losses_take_no_gradient_into_the_teacher_and_need_enough_examples() -> None:
    teacher = TEACHER.clone().requires_grad_(True)
    student = STUDENT.clone().requires_grad_(True)
    (rkd_distance_loss(student, teacher) + rkd_angle_loss(student, teacher)).backward()
    assert teacher.grad is None and bool(student.grad.abs().sum() > 0)
    assert float(rkd_angle_loss(STUDENT[:2], TEACHER[:2])) == 0.0
    assert float(rkd_distance_loss(STUDENT[:1], TEACHER[:1])) == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_relational_terms_have_non_zero_gradients_on_the_student(kind: str) -> None:
    method = create_method("rkd", {"teacher": "run:teacher"})
    prepared = prepare_method(method, kind)
    model = prepared.model.train()
    teacher = method._teacher_embeddings[prepared.indices]
    features = model.forward_features(prepared.batch)
    for term in (rkd_distance_loss, rkd_angle_loss):
        model.zero_grad(set_to_none=True)
        term(features, teacher).backward(retain_graph=True)
        backbone = [(n, p) for n, p in model.backbone.named_parameters() if p.requires_grad]
        assert [n for n, p in backbone if p.grad is None or not bool(p.grad.abs().sum() > 0)] == []


def test_teacher_embeddings_are_computed_once_and_are_the_teachers_features() -> None:
    method = create_method("rkd", {"teacher": "run:teacher", "angle_weight": 0.0})
    prepared = prepare_method(method, "text")
    ctx = prepared.ctx
    assert ctx.extras["teachers"].logits_calls == 1
    teacher, _ = ctx.load_model("run:teacher")
    with torch.no_grad():
        expected = teacher.eval().forward_features(prepared.batch)
    torch.testing.assert_close(method._teacher_embeddings, expected, atol=1e-5, rtol=1e-5)
    model = prepared.model.eval()
    with torch.no_grad():
        loss = method.loss(model, prepared.batch, prepared.labels, prepared.indices)
        logits = run_eval(model, prepared.batch)
        by_hand = (torch.nn.functional.cross_entropy(logits, prepared.labels)
                   + rkd_distance_loss(model.forward_features(prepared.batch), expected))
    torch.testing.assert_close(loss, by_hand, atol=1e-5, rtol=1e-5)
    method.finalize(model)
    assert method._teacher_embeddings is None

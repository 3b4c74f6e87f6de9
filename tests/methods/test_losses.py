"""Shared loss terms against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from zhijian_core.data.dataset import UNLABELLED
from zhijian_core.methods.losses import (distillation_loss, labelled_cross_entropy,
                                         soft_target_loss)

LN3 = math.log(3.0)


def _kl(p: list[float], q: list[float]) -> float:
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))


def test_soft_target_loss_at_temperature_one() -> None:
    # teacher softmax([ln 3, 0]) = [3/4, 1/4]; student softmax([0, 0]) = [1/2, 1/2]
    loss = soft_target_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([[LN3, 0.0]]), 1.0)
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)  # 0.130812...
    assert float(loss) == pytest.approx(expected, abs=1e-6)
    assert float(loss) == pytest.approx(0.1308120, abs=1e-6)


def test_soft_target_loss_softens_and_multiplies_by_t_squared() -> None:
    # at T = 2 the teacher is softmax([ln 3 / 2, 0]) = [√3, 1] / (√3 + 1)
    teacher = [math.sqrt(3) / (math.sqrt(3) + 1), 1 / (math.sqrt(3) + 1)]
    expected = 4.0 * _kl(teacher, [0.5, 0.5])  # 4 × 0.0363400 = 0.1453600
    loss = soft_target_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([[LN3, 0.0]]), 2.0)
    assert float(loss) == pytest.approx(expected, abs=1e-6)
    assert float(loss) == pytest.approx(0.14536, abs=1e-5)


def test_soft_target_loss_averages_over_the_batch_and_vanishes_on_agreement() -> None:
    student = torch.tensor([[0.0, 0.0], [1.0, -1.0]])
    teacher = torch.tensor([[LN3, 0.0], [1.0, -1.0]])  # second row: identical, KL = 0
    loss = soft_target_loss(student, teacher, 1.0)
    assert float(loss) == pytest.approx(0.1308120 / 2, abs=1e-6)


def test_soft_target_gradient_is_t_times_the_probability_gap() -> None:
    # d/ds [T² KL(p_t ‖ softmax(s/T))] = T (p_s - p_t) / B: the T² keeps the gradient scale.
    student = torch.tensor([[0.0, 0.0]], requires_grad=True)
    soft_target_loss(student, torch.tensor([[LN3, 0.0]]), 2.0).backward()
    teacher = [math.sqrt(3) / (math.sqrt(3) + 1), 1 / (math.sqrt(3) + 1)]
    expected = [2.0 * (0.5 - teacher[0]), 2.0 * (0.5 - teacher[1])]
    assert student.grad.tolist()[0] == pytest.approx(expected, abs=1e-6)


def test_soft_target_loss_takes_no_gradient_into_the_teacher() -> None:
    teacher = torch.tensor([[LN3, 0.0]], requires_grad=True)
    soft_target_loss(torch.tensor([[0.0, 0.0]], requires_grad=True), teacher, 2.0).backward()
    assert teacher.grad is None


def test_soft_target_loss_refuses_a_non_positive_temperature() -> None:
    with pytest.raises(ValueError, match="temperature must be positive"):
        soft_target_loss(torch.zeros(1, 2), torch.zeros(1, 2), 0.0)


def test_labelled_cross_entropy_skips_unlabelled_rows() -> None:
    logits = torch.tensor([[LN3, 0.0], [5.0, -5.0], [0.0, 0.0]])
    labels = torch.tensor([0, UNLABELLED, 1])
    # rows 0 and 2: -ln(3/4) and -ln(1/2)
    expected = (-math.log(0.75) - math.log(0.5)) / 2
    assert float(labelled_cross_entropy(logits, labels)) == pytest.approx(expected, abs=1e-6)


def test_labelled_cross_entropy_is_a_connected_zero_without_labels() -> None:
    logits = torch.tensor([[1.0, 2.0]], requires_grad=True)
    loss = labelled_cross_entropy(logits, torch.tensor([UNLABELLED]))
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad.tolist() == [[0.0, 0.0]]


def test_distillation_loss_weights_soft_and_hard_terms() -> None:
    student = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    teacher = torch.tensor([[LN3, 0.0], [LN3, 0.0]])
    labels = torch.tensor([1, UNLABELLED])
    soft = 0.1308120  # per row, T = 1
    hard = -math.log(0.5)  # only row 0 is labelled
    loss = distillation_loss(student, teacher, labels, temperature=1.0, alpha=0.9)
    assert float(loss) == pytest.approx(0.9 * soft + 0.1 * hard, abs=1e-6)
    only_hard = distillation_loss(student, teacher, labels, temperature=1.0, alpha=0.0)
    assert float(only_hard) == pytest.approx(hard, abs=1e-6)


def test_distillation_loss_refuses_alpha_outside_zero_one() -> None:
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        distillation_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([0]), 1.0, 1.5)

"""REFILLED: triplet comparisons and local class targets by hand, both stages' gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tests.methods.conftest import KINDS, prepare_method
from zhijian_core.methods.refilled import (class_centers, local_class_loss, semihard_triplets,
                                           triplet_relation_loss)
from zhijian_core.methods.registry import create_method


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _bernoulli_kl(p: float, q: float) -> float:
    return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))


def test_triplet_relation_loss_by_hand() -> None:
    student = torch.tensor([[0.0], [1.0], [3.0]])  # d_ap = 1, d_an = 3
    teacher = torch.tensor([[0.0], [1.0], [2.0]])  # d_ap = 1, d_an = 2
    triplets = (torch.tensor([0]), torch.tensor([1]), torch.tensor([2]))
    expected = _bernoulli_kl(_sigmoid(1.0 / 0.5), _sigmoid(2.0 / 0.5))
    loss = triplet_relation_loss(student, teacher, triplets, temperature=0.5)
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert float(triplet_relation_loss(student, student, triplets, 0.5)) == pytest.approx(0.0)


def test_semihard_triplets_then_all_valid_ones() -> None:
    embeddings = torch.tensor([[0.0], [1.0], [1.1], [-5.0]])
    labels = torch.tensor([0, 0, 1, 1])
    a, p, n = semihard_triplets(embeddings, labels, margin=0.2)
    # anchor 0: d_ap = 1 < d_an = 1.1 < 1.2 (semi-hard); no other triplet qualifies
    assert (a.tolist(), p.tolist(), n.tolist()) == ([0], [1], [2])
    a, p, n = semihard_triplets(embeddings, labels, margin=0.0)  # none: every valid one
    assert len(a) == 8 and all(labels[x] == labels[y] != labels[z] for x, y, z in zip(a, p, n))
    assert len(semihard_triplets(embeddings, torch.tensor([0, 1, 2, 3]), 0.2)[0]) == 0


def test_class_centers_and_local_class_targets_by_hand() -> None:
    embeddings = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    centers = class_centers(embeddings, torch.tensor([0, 1, 1]), 3 - 1)
    torch.testing.assert_close(centers, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"classes \[2\] have no training example"):
        class_centers(embeddings, torch.tensor([0, 1, 1]), 3)
    # one example of class 0 in a batch with classes {0, 2}: the teacher's targets are over the
    # centres of classes 0 and 2 only; the student's logit for class 1 does not count
    centers3 = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    teacher = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    logits = torch.tensor([[1.0, 9.0, 0.0], [0.0, -9.0, 0.0]])
    labels = torch.tensor([0, 2])
    tau = 0.5
    expected = 0.0
    for row in range(2):
        target = F.softmax(teacher[row] @ centers3[[0, 2]].t() / tau, -1).tolist()
        student = F.softmax(logits[row, [0, 2]] / tau, -1).tolist()
        expected += sum(t * math.log(t / s) for t, s in zip(target, student)) / 2
    value = local_class_loss(logits, teacher, centers3, labels, tau)
    assert float(value) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_both_stages_have_non_zero_gradients_on_the_student(kind: str) -> None:
    method = create_method("refilled", {"teacher": "run:teacher", "embedding_epochs": 0})
    prepared = prepare_method(method, kind)
    model = prepared.model.train()
    teacher = method._teacher[prepared.indices]
    method.embedding_objective(model, prepared.batch, prepared.labels, teacher).backward()
    backbone = [(n, p) for n, p in model.backbone.named_parameters() if p.requires_grad]
    assert [n for n, p in backbone if p.grad is None or not bool(p.grad.abs().sum() > 0)] == []
    model.zero_grad(set_to_none=True)
    logits = model(prepared.batch)
    local_class_loss(logits, teacher, method._centers, prepared.labels, 0.1).backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert [n for n, p in trainable if p.grad is None or not bool(p.grad.abs().sum() > 0)] == []


def test_stage_one_trains_the_backbone_only_and_the_teacher_is_only_an_embedding() -> None:
    untouched = prepare_method(create_method("refilled", {"teacher": "run:teacher",
                                                          "embedding_epochs": 0}), "vit").model
    method = create_method("refilled", {"teacher": "run:teacher-5-classes",
                                        "embedding_epochs": 3, "embedding_lr": 1e-3})
    prepared = prepare_method(method, "vit")  # a teacher of other classes is fine
    assert len(method.embedding_history) == 3 and method.embedding_history[0] > 0
    trained = dict(prepared.model.named_parameters())
    for name, start in untouched.named_parameters():  # same seeded start, no stage 1
        if name.startswith("head."):
            assert torch.equal(trained[name], start), name
        if ".blocks.0." in name:
            assert not torch.equal(trained[name], start), name
    assert method._centers.shape == (3, method._teacher.shape[1])
    torch.testing.assert_close(method._teacher.norm(dim=-1), torch.ones(9))
    method.finalize(prepared.model)
    assert method._teacher is None and method._centers is None

"""Knowledge distillation: transfer set, teacher checks, cached teacher logits, student alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.methods.conftest import NUM_CLASSES, make_context, prepare_method, run_eval, tensorize
from zhijian_core.data.dataset import UNLABELLED
from zhijian_core.errors import ConfigError, MethodError, NotApplicableError
from zhijian_core.methods.kd import preprocessing_difference
from zhijian_core.methods.losses import distillation_loss
from zhijian_core.methods.registry import create_method


def _kd(**config):
    return create_method("kd", {"teacher": "run:teacher", **config})


def test_training_data_is_train_then_an_unlabelled_transfer_set_from_rest() -> None:
    ctx = make_context("text")
    train, rest = ctx.splits.train, ctx.splits.rest
    data = _kd(transfer_size=3).training_data(ctx)
    assert len(data) == len(train) + 3
    assert list(data.inputs[: len(train)]) == list(train.inputs)
    assert data.labels[: len(train)].tolist() == train.labels.tolist()
    assert data.labels[len(train):].tolist() == [UNLABELLED] * 3
    positions = [list(rest.inputs).index(x) for x in data.inputs[len(train):]]
    assert positions == sorted(positions)  # drawn, then kept in rest's order
    assert _kd(transfer_size=3).training_data(ctx).fingerprint() == data.fingerprint()


def test_transfer_size_none_takes_all_of_rest_and_zero_none() -> None:
    ctx = make_context("vit")  # image inputs are arrays: the transfer set is concatenated
    everything = _kd().training_data(ctx)
    assert len(everything) == len(ctx.splits.train) + len(ctx.splits.rest)
    assert isinstance(everything.inputs, np.ndarray)
    assert np.array_equal(everything.inputs[len(ctx.splits.train):], ctx.splits.rest.inputs)
    assert _kd(transfer_size=0).training_data(ctx) is ctx.splits.train


def test_a_transfer_set_larger_than_rest_is_a_config_error() -> None:
    ctx = make_context("text")
    with pytest.raises(ConfigError, match="transfer set of 7 examples.*only 6.*at most 6"):
        _kd(transfer_size=7).training_data(ctx)


def test_teacher_logits_are_computed_once_and_indexed_per_batch() -> None:
    prepared = prepare_method(_kd(transfer_size=3, temperature=2.0, alpha=0.7), "text")
    ctx = prepared.ctx
    assert ctx.extras["teachers"].logits_calls == 1
    teacher, teacher_ptm = ctx.load_model("run:teacher")
    data = prepared.method.training_data(ctx)
    rows = torch.tensor([10, 2, 5, 11])  # mixed transfer (unlabelled) and labelled rows
    batch = tensorize(teacher_ptm, data.subset(rows.numpy()))
    labels = torch.as_tensor(data.labels[rows.numpy()])
    prepared.model.train()
    loss = prepared.method.loss(prepared.model, batch, labels, rows)
    expected = distillation_loss(prepared.model(batch), run_eval(teacher, batch), labels,
                                 temperature=2.0, alpha=0.7)
    torch.testing.assert_close(loss, expected)
    assert ctx.extras["teachers"].logits_calls == 1


def test_finalize_returns_the_student_alone() -> None:
    prepared = prepare_method(_kd(student="tiny-text-small", transfer_size=0), "text")
    student = prepared.method.target_ptm(prepared.ctx)
    assert student.spec == "tiny-text-small"
    assert prepared.method.target_ptm(prepared.ctx) is student  # loaded once
    final = prepared.method.finalize(prepared.model)
    expected = sum(p.numel() for p in student.backbone.parameters()) + (32 + 1) * NUM_CLASSES
    assert sum(p.numel() for p in final.parameters()) == expected
    assert prepared.method.architecture(prepared.ctx).ptm == "tiny-text-small"


def test_loss_before_prepare_is_an_error() -> None:
    method = _kd()
    ctx = make_context("text")
    model = method.build(ctx)
    with pytest.raises(MethodError, match="prepare\\(\\) must run before loss\\(\\)"):
        method.loss(model, {}, torch.tensor([0]), torch.tensor([0]))


@pytest.mark.parametrize(("kind", "field"), [("text", "max_length"), ("vit", "resize")])
def test_a_teacher_with_other_preprocessing_is_refused(kind: str, field: str) -> None:
    with pytest.raises(NotApplicableError, match=f"method 'kd' cannot distil teacher "
                                                 f"'run:teacher-other-preprocess'.*{field}"):
        prepare_method(_kd(teacher="run:teacher-other-preprocess"), kind)


def test_a_teacher_for_other_classes_is_refused() -> None:
    with pytest.raises(MethodError, match=r"logits of shape \(15, 5\).*task has 3 classes"):
        prepare_method(_kd(teacher="run:teacher-5-classes"), "text")


def test_tokenizers_are_compared_by_their_bytes(tmp_path: Path) -> None:
    ptm = make_context("text").ptm
    folders = {}
    for name, content in (("a", b"vocab-1"), ("b", b"vocab-1"), ("c", b"vocab-2")):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        (folders[name] / "tokenizer.json").write_bytes(content)
    with_assets = {name: dataclasses.replace(ptm, assets_dir=folder)
                   for name, folder in folders.items()}
    assert preprocessing_difference(ptm, ptm) is None
    assert preprocessing_difference(with_assets["a"], with_assets["b"]) is None
    assert "tokenizers differ" in preprocessing_difference(with_assets["a"], with_assets["c"])
    assert "only one of them" in preprocessing_difference(ptm, with_assets["a"])


def test_text_and_image_preprocessing_differ() -> None:
    text, image = make_context("text").ptm, make_context("cnn").ptm
    assert "takes text input" in preprocessing_difference(text, image)

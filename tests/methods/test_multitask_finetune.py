"""Multi-task fine-tuning: the loss by hand, the tasks it trains on, the head it finalizes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.methods.conftest import make_context, prepare_method, run_eval
from zhijian_core.errors import ConfigError, MethodError
from zhijian_core.methods.multitask_finetune import multitask_loss
from zhijian_core.methods.registry import create_method


def test_the_loss_is_each_examples_cross_entropy_under_its_own_head() -> None:
    first = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [0.0, 1.0, 3.0]])
    second = torch.tensor([[1.0, -1.0], [0.0, 2.0], [3.0, 0.0]])
    labels = torch.tensor([2, 4, 0])  # example 1 belongs to the second task (labels 3-4)
    by_hand = (F.cross_entropy(first[[0]], torch.tensor([2]))
               + F.cross_entropy(second[[1]], torch.tensor([1]))
               + F.cross_entropy(first[[2]], torch.tensor([0]))) / 3
    torch.testing.assert_close(multitask_loss([first, second], labels, [0, 3]), by_hand)


def test_training_data_holds_both_tasks_with_shifted_labels() -> None:
    method = create_method("multitask_finetune", {"tasks": ["tiny-cnn-parity", "tiny-cnn"]})
    prepared = prepare_method(method, "cnn")
    train = prepared.ctx.splits.train
    data = method.training_data(prepared.ctx)
    assert len(data) == 2 * len(train)
    assert data.labels.tolist() == train.labels.tolist() + (3 + train.labels % 2).tolist()
    assert data.label_names[:3] == train.label_names
    assert data.label_names[3:] == ("tiny-cnn-parity:even", "tiny-cnn-parity:odd")
    assert [h.out_features for h in prepared.model.heads()] == [3, 2]


def test_finalize_keeps_the_run_tasks_head_on_the_shared_backbone() -> None:
    prepared = prepare_method(create_method("multitask_finetune",
                                            {"tasks": ["tiny-text", "tiny-text-parity"]}), "text")
    model = prepared.model
    final = prepared.method.finalize(model)
    assert final.backbone is model.backbone and not hasattr(final, "task_heads")
    torch.testing.assert_close(final.head.weight, model.head.weight)
    torch.testing.assert_close(run_eval(final, prepared.batch), run_eval(model, prepared.batch))


def test_default_tasks_are_the_pair_holding_the_runs_dataset() -> None:
    method = create_method("multitask_finetune")
    assert method.tasks("airline-tweets-airline") == ["airline-tweets-airline",
                                                      "airline-tweets-sentiment"]
    assert method.tasks("fashion-mnist-0to4") == ["fashion-mnist-0to4", "fashion-mnist-5to9"]
    with pytest.raises(MethodError, match="no multi-task setting holds"):
        method.tasks("tiny-text")


def test_the_runs_dataset_must_be_one_of_the_tasks() -> None:
    method = create_method("multitask_finetune", {"tasks": ["tiny-vit-parity", "other"]})
    with pytest.raises(MethodError, match="'tiny-vit' is not one of the tasks"):
        method.build(make_context("vit"))


@pytest.mark.parametrize("tasks", [["a"], ["a", "a"]])
def test_config_needs_two_distinct_tasks(tasks: list[str]) -> None:
    with pytest.raises(ConfigError, match="tasks"):
        create_method("multitask_finetune", {"tasks": tasks})

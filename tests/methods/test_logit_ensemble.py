"""Logit ensembles: members must fit the task and the inputs; the ensemble exports as one graph."""

from __future__ import annotations

import pytest
import torch

from tests.methods.conftest import make_context, prepare_method, run_eval, tensorize
from tests.methods.onnx_check import assert_onnx_matches
from zhijian_core.errors import MethodError, NotApplicableError
from zhijian_core.methods.registry import create_method


def test_members_are_private_copies_and_the_ingredients_stay_untouched() -> None:
    ctx = make_context("vit")
    method = create_method("logit_ensemble", {"ingredients": ["run:tuned-1", "run:tuned-1"]})
    ensemble = method.build(ctx)
    first, second = ensemble.members  # type: ignore[union-attr]
    assert first is not second and first.backbone is not ctx.ptm.backbone
    # Two identical members: the ensemble equals either one.
    batch = tensorize(ctx.ptm, ctx.splits.test)
    torch.testing.assert_close(run_eval(ensemble, batch), torch.log_softmax(run_eval(first, batch), -1))


@pytest.mark.parametrize(("reference", "error", "detail"), [
    ("run:teacher-5-classes", MethodError, "5 classes"),
    ("run:teacher-other-preprocess", NotApplicableError, "preprocessing differs"),
])
def test_members_of_another_task_or_input_are_refused(reference: str, error: type,
                                                      detail: str) -> None:
    method = create_method("logit_ensemble", {"ingredients": ["run:tuned-1", reference]})
    with pytest.raises(error, match=detail):
        method.build(make_context("cnn"))


@pytest.mark.parametrize("combine", ["logits", "probabilities"])
def test_the_ensemble_exports_to_one_onnx_graph(combine: str) -> None:
    prepared = prepare_method(create_method("logit_ensemble", {
        "ingredients": ["run:tuned-1", "run:teacher"], "combine": combine}), "text")
    assert_onnx_matches(prepared.method.finalize(prepared.model), prepared.ctx.ptm,
                        prepared.ctx.splits.test)

"""SimpleShot: the CL2N centre is the training mean, and the finalized classifier rebuilds."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tests.methods.conftest import load_tiny_ptm, make_context, prepare_method, run_eval, tensorize
from tests.methods.onnx_check import assert_onnx_matches
from zhijian_core.methods.registry import create_method
from zhijian_core.methods.simpleshot import cl2n
from zhijian_core.model import ReuseClassifier


def test_the_centre_is_the_training_mean_and_logits_are_negative_half_distances() -> None:
    prepared = prepare_method(create_method("simpleshot"), "vit")
    ctx, model = prepared.ctx, prepared.model
    train = ctx.encode(ctx.ptm, ctx.splits.train)
    torch.testing.assert_close(model.feature_center, train.mean(0))
    # Logits differ from -½‖f - μ_c‖² by a per-example constant (½‖f‖² = ½ on the sphere).
    test = ctx.encode(ctx.ptm, ctx.splits.test)
    features = cl2n(test, train.mean(0))
    labels = torch.as_tensor(ctx.splits.train.labels)
    means = torch.stack([cl2n(train, train.mean(0))[labels == c].mean(0) for c in range(3)])
    expected = -0.5 * torch.cdist(features, means).pow(2) + 0.5
    got = run_eval(model, tensorize(ctx.ptm, ctx.splits.test))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_cl2n_is_centred_then_normalised() -> None:
    features, center = torch.tensor([[3.0, 4.0], [1.0, 1.0]]), torch.tensor([0.0, 1.0])
    torch.testing.assert_close(cl2n(features, center), F.normalize(torch.tensor(
        [[3.0, 3.0], [1.0, 0.0]]), dim=-1))


def test_simpleshot_exports_and_rebuilds_with_its_centre() -> None:
    prepared = prepare_method(create_method("simpleshot"), "text")
    final = prepared.method.finalize(prepared.model)
    arch = prepared.method.architecture(make_context("text"))
    assert arch.feature_norm == "cl2n"
    rebuilt = ReuseClassifier(load_tiny_ptm(arch.ptm, seed=5).backbone, arch.num_classes,
                              arch.feature_norm)
    rebuilt.load_state_dict(final.state_dict())
    batch = tensorize(prepared.ctx.ptm, prepared.ctx.splits.val)
    torch.testing.assert_close(run_eval(rebuilt, batch), run_eval(final, batch))
    assert_onnx_matches(final, prepared.ctx.ptm, prepared.ctx.splits.test)

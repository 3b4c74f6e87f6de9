"""kNN on frozen features: the vote by hand, the limits on k, and the ONNX export."""

from __future__ import annotations

import pytest
import torch

from tests.methods.conftest import make_context, prepare_method
from tests.methods.onnx_check import assert_onnx_matches
from zhijian_core.errors import ConfigError
from zhijian_core.methods.knn import KNNClassifier
from zhijian_core.methods.registry import create_method


class _Identity(torch.nn.Module):
    feature_dim = 2


def _tiny_knn(weighting: str, k: int) -> KNNClassifier:
    knn = KNNClassifier(_Identity(), support_size=4, num_classes=2, k=k,  # type: ignore[arg-type]
                        weighting=weighting, temperature=0.5)
    knn.set_support(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [3.0, 3.0]]),
                    torch.tensor([0, 1, 0, 1]))
    return knn


def test_uniform_vote_by_hand() -> None:
    knn = _tiny_knn("uniform", k=3)
    # The query (1, 0.2) is nearest (cosine) to (1, 0.1), (1, 0), then (3, 3): votes 2 : 1.
    logits = knn({"features": torch.tensor([[1.0, 0.2]])})
    torch.testing.assert_close(logits.exp(), torch.tensor([[2 / 3, 1 / 3]]))


def test_similarity_weighted_vote_by_hand() -> None:
    knn = _tiny_knn("similarity", k=2)
    query = torch.tensor([[0.0, 1.0]])
    # Nearest: (0, 1) of class 1 (cosine 1), then (3, 3) of class 1 (cosine 0.7071): all class 1.
    torch.testing.assert_close(knn({"features": query}).exp(), torch.tensor([[1e-9, 1.0]]))
    knn = _tiny_knn("similarity", k=4)
    sims = torch.nn.functional.normalize(knn.support, dim=-1) @ torch.tensor([0.0, 1.0])
    weights = torch.exp((sims - sims.max()) / 0.5)
    share0 = (weights[0] + weights[2]) / weights.sum()
    torch.testing.assert_close(knn({"features": query}).exp()[0, 0], share0)


def test_k_larger_than_the_training_set_is_refused() -> None:
    with pytest.raises(ConfigError, match="k=50"):
        create_method("knn", {"k": 50}).build(make_context("text"))


@pytest.mark.parametrize("kind", ["text", "vit", "cnn"])
def test_knn_exports_to_onnx_with_parity(kind: str) -> None:
    prepared = prepare_method(create_method("knn", {"k": 4}), kind)
    final = prepared.method.finalize(prepared.model)
    assert_onnx_matches(final, prepared.ctx.ptm, prepared.ctx.splits.test)

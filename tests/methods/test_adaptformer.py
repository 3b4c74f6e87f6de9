"""AdaptFormer: the scaled parallel branch, exact start as the PTM, BERT's residual placement."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.methods.conftest import prepare_method, run_eval
from zhijian_core.layers.bottleneck import ParallelAdapter
from zhijian_core.methods.registry import create_method


def _randomise(layer: ParallelAdapter) -> None:
    with torch.no_grad():
        for p in layer.branch.parameters():
            p.normal_()


def test_the_branch_is_added_to_the_mlp_scaled() -> None:
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 4))
    layer = ParallelAdapter(mlp, 4, 2, scale=0.1, residual_input=False)
    _randomise(layer)
    x = torch.randn(3, 4)
    with torch.no_grad():
        branch = layer.branch.up(torch.relu(layer.branch.down(x)))
        torch.testing.assert_close(layer(x), mlp(x) + 0.1 * branch)


class _PostNormOutput(nn.Module):
    """BERT's output layer: ``norm(dense(h) + r)``."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = nn.Linear(8, 4)
        self.norm = nn.LayerNorm(4)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.norm(self.dense(hidden) + residual)


def test_a_post_norm_branch_reads_the_mlp_input_and_joins_before_the_norm() -> None:
    torch.manual_seed(0)
    output = _PostNormOutput()
    layer = ParallelAdapter(output, 4, 2, scale=0.5, residual_input=True)
    _randomise(layer)
    hidden, residual = torch.randn(3, 8), torch.randn(3, 4)
    with torch.no_grad():
        branch = layer.branch.up(torch.relu(layer.branch.down(residual)))
        expected = output.norm(output.dense(hidden) + residual + 0.5 * branch)
        torch.testing.assert_close(layer(hidden, residual), expected)


@pytest.mark.parametrize(("kind", "target"), [("text", "output"), ("vit", "mlp")])
def test_zero_up_projection_starts_exactly_as_the_ptm(kind: str, target: str) -> None:
    prepared = prepare_method(create_method("adaptformer", {"bottleneck": 4}), kind)
    branches = [n for n, m in prepared.model.backbone.model.named_modules()
                if isinstance(m, ParallelAdapter)]
    assert branches == [f"{b}.{target}" for b in prepared.ctx.ptm.backbone.block_names()]
    torch.testing.assert_close(run_eval(prepared.model.backbone, prepared.batch),
                               run_eval(prepared.ctx.ptm.backbone, prepared.batch),
                               atol=0.0, rtol=0.0)

"""Export a finalized tiny module to ONNX and compare ONNX Runtime with PyTorch (shared helper)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tests.methods.conftest import tensorize
from zhijian_core.data.dataset import Dataset
from zhijian_core.export.onnx_export import export_onnx
from zhijian_core.export.runtime import cpu_session, run_session
from zhijian_core.ptm.loaded import LoadedPTM


def assert_onnx_matches(module: nn.Module, ptm: LoadedPTM, data: Dataset,
                        atol: float = 1e-4) -> None:
    """``module`` exports as a classification graph whose logits equal PyTorch's on ``data``."""
    batch = {name: t.numpy() for name, t in tensorize(ptm, data).items()}
    graph = export_onnx(module, "classification", ptm.preprocess, batch)
    outputs = run_session(cpu_session(graph.model), batch)
    with torch.no_grad():
        expected = module({name: torch.from_numpy(a) for name, a in batch.items()}).numpy()
    np.testing.assert_allclose(outputs["logits"], expected, atol=atol, rtol=1e-4)
    for size in (1, 2):  # the batch axis is dynamic
        part = {name: a[:size] for name, a in batch.items()}
        assert run_session(cpu_session(graph.model), part)["logits"].shape == (size, expected.shape[1])

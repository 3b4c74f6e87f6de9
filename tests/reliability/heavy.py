"""A compute-bound image classifier for the load tests: the tiny bundle's inputs and outputs, with
a fixed amount of work per item that batching does not amortize.

Each item's three channel means become a 256 x 256 matrix, squared ``layers`` times (a batched
MatMul of the item's own matrix, 33.5 MFLOP per layer and item) with a ``tanh`` between, then
pooled to two logits. So the model, not the service's per-request overhead, sets the capacity,
as with a real model on these cores.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from tests.services.bundles import IMAGE_SIDE, _save

SIDE = 256


def heavy_graph(path: Path, seed: int, layers: int) -> None:
    """Write the graph (weights drawn from ``seed``)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    spread = rng.normal(size=(3, SIDE * SIDE)).astype(np.float32)
    head = (rng.normal(size=(SIDE, 2)) / np.sqrt(SIDE)).astype(np.float32)
    scale = np.array(1.0 / np.sqrt(SIDE), dtype=np.float32)
    nodes = [helper.make_node("ReduceMean", ["pixel_values"], ["means"], axes=[2, 3], keepdims=0),
             helper.make_node("MatMul", ["means", "spread"], ["flat"]),
             helper.make_node("Reshape", ["flat", "square"], ["x0"])]
    for layer in range(layers):
        nodes += [helper.make_node("MatMul", [f"x{layer}", f"x{layer}"], [f"p{layer}"]),
                  helper.make_node("Mul", [f"p{layer}", "scale"], [f"s{layer}"]),
                  helper.make_node("Tanh", [f"s{layer}"], [f"x{layer + 1}"])]
    nodes += [helper.make_node("ReduceMean", [f"x{layers}"], ["rows"], axes=[2], keepdims=0),
              helper.make_node("MatMul", ["rows", "head"], ["logits"]),
              helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    graph = helper.make_graph(
        nodes, "heavy-image",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT,
                                       ["batch", 3, IMAGE_SIDE, IMAGE_SIDE])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(spread, "spread"), numpy_helper.from_array(head, "head"),
         numpy_helper.from_array(scale, "scale"),
         numpy_helper.from_array(np.array([-1, SIDE, SIDE], dtype=np.int64), "square")])
    _save(graph, path)


def heavy(layers: int) -> Callable[[Path, int], None]:
    """The ``graph`` argument of ``make_image_bundle`` for a model of ``layers`` layers."""
    return partial(heavy_graph, layers=layers)

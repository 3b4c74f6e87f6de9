"""Convert the ONNX export of paraphrase-MiniLM-L3-v2 into a transformers ``BertModel``.

The export (sentence-transformers, PyTorch 2.3, opset 17) keeps the named initializers of the
embeddings, biases and LayerNorms (``model.0.auto_model.<bert name>``), but stores each Linear
weight as an unnamed ``onnx::MatMul_<n>`` initializer, transposed (``in x out``). The module path
of such a weight is in the name of the MatMul node that consumes it, e.g.
``/model/model.0/auto_model/encoder/layer.0/attention/self/query/MatMul``. The export has no pooler.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from zhijian_core.errors import MissingDependencyError, PTMError

if TYPE_CHECKING:
    import numpy as np
    from transformers import BertConfig, BertModel

MINILM_L3_CONFIG: dict[str, int | float | str] = {
    "vocab_size": 30522,
    "hidden_size": 384,
    "num_hidden_layers": 3,
    "num_attention_heads": 12,
    "intermediate_size": 1536,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
}
"""The BERT configuration of paraphrase-MiniLM-L3-v2 (no weights file is needed to build it)."""

_NAMED_PREFIX = "model.0.auto_model."
_NODE_PREFIX = "/model/model.0/auto_model/"


def minilm_l3_config() -> BertConfig:
    """Return the transformers ``BertConfig`` of paraphrase-MiniLM-L3-v2 (eager attention)."""
    from transformers import BertConfig

    return BertConfig(**MINILM_L3_CONFIG, attn_implementation="eager")


def build_minilm_l3() -> BertModel:
    """Build the MiniLM-L3 ``BertModel`` (no pooler, as in the export) with random weights."""
    from transformers import BertModel

    return BertModel(minilm_l3_config(), add_pooling_layer=False)


def _matmul_weight_name(node_name: str) -> str:
    """``/model/model.0/auto_model/encoder/layer.0/attention/self/query/MatMul`` →
    ``encoder.layer.0.attention.self.query.weight``."""
    if not node_name.startswith(_NODE_PREFIX) or not node_name.endswith("/MatMul"):
        raise PTMError(f"unexpected MatMul node {node_name!r} in the MiniLM-L3 ONNX file")
    return node_name[len(_NODE_PREFIX):-len("/MatMul")].replace("/", ".") + ".weight"


def onnx_bert_weights(onnx_path: Path) -> dict[str, np.ndarray]:
    """Read the BERT weights of the MiniLM-L3 ONNX file, named and shaped as in ``BertModel``.

    Args:
        onnx_path: The ``paraphrase-MiniLM-L3-v2.onnx`` file.

    Returns:
        Writable arrays by ``BertModel`` state-dict name; Linear weights transposed to
        ``out x in``.

    Raises:
        PTMError: The file cannot be read or a weight cannot be placed.
        MissingDependencyError: The ``onnx`` package is missing.
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:
        raise MissingDependencyError("the 'onnx' package is needed to convert minilm-l3; "
                                     "pip install 'zhijian[train]'") from exc
    try:
        graph = onnx.load(str(onnx_path)).graph
    except Exception as exc:  # onnx raises DecodeError, OSError, ... for a bad file
        raise PTMError(f"cannot read the ONNX file {onnx_path}: {exc}") from exc
    initializers = {init.name: init for init in graph.initializer}
    weights: dict[str, np.ndarray] = {}
    for name, init in initializers.items():
        if name.startswith(_NAMED_PREFIX):
            weights[name[len(_NAMED_PREFIX):]] = numpy_helper.to_array(init).copy()
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        stored = [i for i in node.input if i in initializers and not i.startswith(_NAMED_PREFIX)]
        if stored:
            target = _matmul_weight_name(node.name)
            if target in weights:
                raise PTMError(f"two MatMul weights map to {target} in {onnx_path}")
            weights[target] = numpy_helper.to_array(initializers[stored[0]]).T.copy()
    return weights


def convert_minilm_l3(onnx_path: Path) -> BertModel:
    """Build the MiniLM-L3 ``BertModel`` and load the weights of the ONNX file into it, exactly.

    Args:
        onnx_path: The ``paraphrase-MiniLM-L3-v2.onnx`` file.

    Returns:
        The converted model in eval mode; every parameter and buffer except ``position_ids`` and
        ``token_type_ids`` buffers comes from the file.

    Raises:
        PTMError: The file's weights do not cover the model, have extra entries or wrong shapes.
    """
    import torch

    model = build_minilm_l3()
    arrays = onnx_bert_weights(onnx_path)
    expected = {n for n, _ in model.named_parameters()}
    missing, extra = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
    if missing or extra:
        raise PTMError(f"the MiniLM-L3 ONNX weights do not match BertModel: missing {missing}, "
                       f"unexpected {extra} (file {onnx_path})")
    state = {n: torch.from_numpy(a) for n, a in arrays.items()}
    try:
        model.load_state_dict(state, strict=False)  # strict=False: the buffers stay computed
    except RuntimeError as exc:
        raise PTMError(f"the MiniLM-L3 ONNX weights have wrong shapes: {exc}") from exc
    return model.eval()

"""Tiny real bundles for the serving tests, built without torch: hand-written ONNX graphs with
deterministic weights, a real `tokenizers` file, and valid manifests.

- image classification: ``pixel_values`` (N, 3, 8, 8) -> channel means -> a 3x2 linear layer ->
  ``logits`` and ``probabilities`` (softmax), labels ``cat`` and ``dog``;
- text embedding: ``input_ids`` and ``attention_mask`` -> an embedding table -> masked mean ->
  L2-normalised ``embedding`` of dimension 4.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import numpy as np

from zhijian_core.bundle.io import MODEL, write_bundle
from zhijian_core.bundle.manifest import (IO, Evaluation, Evidence, Lineage, Manifest, MethodLineage,
                                          Parity, PTMLineage, Task, TensorSpec)
from zhijian_core.preprocess.spec import ImagePreprocessSpec, TextPreprocessSpec

WORDS = ["good", "bad", "movie", "great", "awful", "flight", "the", "a", "is", "was"]
LABELS = ["cat", "dog"]
DIMENSION = 4
IMAGE_SIDE = 8


def write_tokenizer(folder: Path) -> Path:
    """A word-level tokenizer with ``[CLS] ... [SEP]`` around each text."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    target = folder / "tokenizer.json"
    tokenizer.save(str(target))
    return target


def _save(graph, path: Path) -> None:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def image_graph(path: Path, seed: int) -> None:
    """Write the image classifier's ONNX graph (weights drawn from ``seed``)."""
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(seed).normal(size=(3, 2)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["pixel_values"], ["means"], axes=[2, 3], keepdims=0),
         helper.make_node("MatMul", ["means", "weights"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)],
        "tiny-image",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT,
                                       ["batch", 3, IMAGE_SIDE, IMAGE_SIDE])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(weights, "weights")])
    _save(graph, path)


def text_graph(path: Path, seed: int) -> None:
    """Write the text embedder's ONNX graph (table drawn from ``seed``)."""
    from onnx import TensorProto, helper, numpy_helper

    table = np.random.default_rng(seed).normal(size=(4 + len(WORDS), DIMENSION)).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["vectors"]),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["vectors", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["total"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "axis1"], ["count"], keepdims=0),
        helper.make_node("Div", ["total", "count"], ["mean"]),
        helper.make_node("LpNormalization", ["mean"], ["embedding"], axis=1, p=2),
    ]
    graph = helper.make_graph(
        nodes, "tiny-text",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", DIMENSION])],
        [numpy_helper.from_array(table, "table"),
         numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
         numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")])
    _save(graph, path)


def _lineage(name: str) -> Lineage:
    return Lineage(model_name=name, ptm=PTMLineage(spec="tiny", identity="tiny", digest="ab" * 32),
                   method=MethodLineage(name="linear_probe", family="architect"),
                   code_version="0.0.test", created_at="2026-01-01T00:00:00+00:00")


def _evidence(macro_f1: float | None = None) -> Evidence:
    evaluation = None if macro_f1 is None else Evaluation(
        dataset_fingerprint="fp-a", examples=40, accuracy=macro_f1, macro_f1=macro_f1)
    return Evidence(parity=Parity(max_abs_diff=1e-7, tolerance=1e-4, passed=True, batch_sizes=[1, 4]),
                    evaluation=evaluation)


def make_image_bundle(target: Path, name: str = "images", seed: int = 0,
                      macro_f1: float = 0.9, graph: Callable[[Path, int], None] | None = None
                      ) -> Path:
    """Write the image classification bundle into ``target`` (which must not exist), with its own
    evaluation reporting ``macro_f1`` (what the promotion gates read); ``graph`` writes another
    graph with the same inputs and outputs (default :func:`image_graph`)."""
    def fill(tmp: Path) -> Manifest:
        (graph or image_graph)(tmp / MODEL, seed)
        return Manifest(
            lineage=_lineage(name), task=Task(kind="classification", labels=LABELS),
            io=IO(inputs=[TensorSpec(name="pixel_values", dtype="float32",
                                     shape=["batch", 3, IMAGE_SIDE, IMAGE_SIDE])],
                  outputs=[TensorSpec(name="probabilities", dtype="float32", shape=["batch", 2]),
                           TensorSpec(name="logits", dtype="float32", shape=["batch", 2])],
                  raw_input="image", preprocess=ImagePreprocessSpec(resize=IMAGE_SIDE)),
            opset=17, evidence=_evidence(macro_f1), files={})

    write_bundle(target, fill)
    return target


def make_text_bundle(target: Path, name: str = "texts", seed: int = 0) -> Path:
    """Write the text embedding bundle into ``target`` (which must not exist)."""
    def fill(tmp: Path) -> Manifest:
        text_graph(tmp / MODEL, seed)
        write_tokenizer(tmp)
        return Manifest(
            lineage=_lineage(name), task=Task(kind="embedding", dimension=DIMENSION),
            io=IO(inputs=[TensorSpec(name="input_ids", dtype="int64", shape=["batch", "sequence"]),
                          TensorSpec(name="attention_mask", dtype="int64",
                                     shape=["batch", "sequence"])],
                  outputs=[TensorSpec(name="embedding", dtype="float32", shape=["batch", DIMENSION])],
                  raw_input="text", preprocess=TextPreprocessSpec(max_length=16)),
            opset=17, evidence=_evidence(), files={})

    write_bundle(target, fill)
    return target


def png_bytes(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (12, 10),
              fmt: str = "PNG") -> bytes:
    """An encoded image of one colour."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=fmt)
    return buffer.getvalue()

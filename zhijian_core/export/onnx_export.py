"""A finalized PyTorch module to one ONNX graph: pinned opset, named inputs, dynamic axes.

The legacy (TorchScript) exporter is used on purpose: it is fast for small models, writes the
whole model into one buffer (no external data file) and yields graphs whose attention ONNX
Runtime's transformer optimizer can fuse (see ``STACK.md``). The graph is built in memory and
returned as bytes; the bundle writer decides where they land.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Mapping

import numpy as np

from zhijian_core.bundle.manifest import TensorSpec
from zhijian_core.errors import ExportError, MissingDependencyError
from zhijian_core.preprocess.spec import ImagePreprocessSpec, TextPreprocessSpec

if TYPE_CHECKING:
    from torch import nn

OPSET = 17
"""ONNX opset every bundle is exported with (LayerNormalization is native from 17)."""

TaskKind = Literal["classification", "embedding"]
OUTPUTS: dict[str, tuple[str, ...]] = {"classification": ("probabilities", "logits"),
                                       "embedding": ("embedding",)}
"""Output names of each kind of bundle, in graph order."""


@dataclass(frozen=True)
class OnnxGraph:
    """An exported graph and the description of its tensors.

    Attributes:
        model: The serialized ``ModelProto`` (one file, weights inside).
        inputs: The graph inputs, in order, with dynamic axes named.
        outputs: The graph outputs, in order.
        opset: The ONNX opset of the default domain.
    """

    model: bytes
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    opset: int


def graph_module(module: "nn.Module", kind: TaskKind, input_names: tuple[str, ...]) -> "nn.Module":
    """Wrap ``module`` so that it takes positional tensors in ``input_names`` order.

    Args:
        module: For ``classification``, a module mapping a batch dict to logits ``(B, C)``; for
            ``embedding``, a backbone mapping a batch dict to pooled features ``(B, D)``.
        kind: What the graph outputs: ``(probabilities, logits)`` or an L2-normalized ``embedding``.
        input_names: Names of the positional inputs, as the preprocessing produces them.

    Returns:
        A module in eval mode whose forward is ``forward(*tensors)``.
    """
    import torch.nn.functional as F
    from torch import Tensor, nn

    class _Graph(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, *tensors: Tensor) -> tuple[Tensor, ...]:
            out = self.inner(dict(zip(input_names, tensors)))
            if kind == "embedding":
                return (F.normalize(out, dim=-1),)
            return out.softmax(dim=-1), out

    return _Graph().eval()


def _fixed_size_vits(module: "nn.Module", side: int) -> list["nn.Module"]:
    return [m for m in module.modules()
            if getattr(m, "dynamic_img_size", False) and hasattr(m, "set_input_size")
            and hasattr(m, "patch_embed") and tuple(m.patch_embed.img_size) != (side, side)]


def export_ready(module: "nn.Module", spec: TextPreprocessSpec | ImagePreprocessSpec) -> "nn.Module":
    """``module``, or a copy of it whose timm ViTs have their input size fixed to the spec's.

    A timm ViT run at another size than it was built for resamples its position embedding on
    every forward (bicubic with antialiasing, which has no ONNX operator). The bundle's image
    size is fixed by its preprocessing, so the copy resamples once, with the same function, and
    adds the result as a plain parameter: the same numbers, a static graph. Parity checks it.

    Args:
        module: The module to export (left unchanged).
        spec: The preprocessing spec; only an image spec's side matters.
    """
    if not isinstance(spec, ImagePreprocessSpec):
        return module
    side = spec.crop or spec.resize
    if not _fixed_size_vits(module, side):
        return module
    import copy

    copied = copy.deepcopy(module)
    for vit in _fixed_size_vits(copied, side):
        vit.set_input_size(img_size=(side, side))
        vit.dynamic_img_size = False
        vit.patch_embed.flatten = True  # tokens (B, H*W, C), as the dynamic path's NHWC view
    return copied


def _dynamic_axes(spec: TextPreprocessSpec | ImagePreprocessSpec, kind: TaskKind
                  ) -> dict[str, dict[int, str]]:
    axes: dict[str, dict[int, str]] = {}
    for name in input_names_of(spec):
        axes[name] = {0: "batch", 1: "sequence"} if isinstance(spec, TextPreprocessSpec) else {0: "batch"}
    for name in OUTPUTS[kind]:
        axes[name] = {0: "batch"}
    return axes


def input_names_of(spec: TextPreprocessSpec | ImagePreprocessSpec) -> tuple[str, ...]:
    """Graph input names of a preprocessing spec (the tensors it produces, in order)."""
    return spec.input_names if isinstance(spec, TextPreprocessSpec) else (spec.input_name,)


_DTYPES = {np.dtype(np.int64): "int64", np.dtype(np.int32): "int32",
           np.dtype(np.float32): "float32", np.dtype(np.float16): "float16"}


def _tensor_specs(names: tuple[str, ...], arrays: list[np.ndarray],
                  axes: dict[str, dict[int, str]]) -> list[TensorSpec]:
    specs = []
    for name, array in zip(names, arrays):
        shape: list[int | str] = [axes.get(name, {}).get(i, int(d)) for i, d in enumerate(array.shape)]
        specs.append(TensorSpec(name=name, dtype=_DTYPES[array.dtype], shape=shape))
    return specs


def export_onnx(module: "nn.Module", kind: TaskKind,
                spec: TextPreprocessSpec | ImagePreprocessSpec,
                example: Mapping[str, np.ndarray]) -> OnnxGraph:
    """Export ``module`` to one ONNX graph and check it with ``onnx.checker``.

    The module is not modified (its train/eval mode is restored). Text examples should contain a
    padded row: the trace then keeps the attention-mask path that padded batches need.

    Args:
        module: The finalized classifier (batch dict to logits) or, for ``embedding``, the backbone.
        kind: ``classification`` (outputs ``probabilities`` and ``logits``) or ``embedding``.
        spec: The preprocessing spec; its tensor names are the graph's input names.
        example: One preprocessed batch (numpy arrays by input name) to trace with.

    Returns:
        The serialized graph with its input and output descriptions.

    Raises:
        ExportError: Tracing or exporting failed, or the graph does not pass ``onnx.checker``.
        MissingDependencyError: torch or onnx is not installed.
    """
    try:
        import onnx
        import torch
    except ImportError as exc:
        raise MissingDependencyError("exporting needs torch and onnx: pip install 'zhijian[export]'"
                                     ) from exc
    names = input_names_of(spec)
    missing = [name for name in names if name not in example]
    if missing:
        raise ExportError(f"the example batch lacks the inputs {missing} that the preprocessing "
                          f"spec names; give {list(names)}")
    args = tuple(torch.from_numpy(np.ascontiguousarray(example[name])) for name in names)
    axes = _dynamic_axes(spec, kind)
    wrapper = graph_module(export_ready(module, spec), kind, names)
    was_training = module.training
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            # The legacy exporter is chosen on purpose (one file, fusable attention); torch warns
            # that it is deprecated, and its own internals call a deprecated helper.
            warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based",
                                    category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx\.")
            # transformers' mask code branches on tensor values while tracing, and indexes with
            # non-negative aranges; parity over several batch sizes and lengths checks the graph.
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="Exporting aten::index operator of advanced",
                                    category=UserWarning)
            # A strided slice (MiniLM's position ids) is left unfolded: a notice, not a fault.
            warnings.filterwarnings("ignore", message="Constant folding - Only steps=1",
                                    category=UserWarning)
            with torch.no_grad():
                torch.onnx.export(wrapper, args, buffer, input_names=list(names),
                                  output_names=list(OUTPUTS[kind]), dynamic_axes=axes,
                                  opset_version=OPSET, dynamo=False, do_constant_folding=True)
    except ExportError:
        raise
    except Exception as exc:  # the exporter raises many types (RuntimeError, SymbolicValueError)
        raise ExportError(f"torch.onnx.export failed for a {type(module).__name__} "
                          f"({kind}): {exc}") from exc
    finally:
        module.train(was_training)
    data = buffer.getvalue()
    try:
        proto = onnx.load_from_string(data)
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # onnx raises ValidationError, InferenceError, DecodeError
        raise ExportError(f"the exported graph fails onnx.checker: {exc}") from exc
    with torch.no_grad():
        outs = wrapper(*args)
    return OnnxGraph(model=data, inputs=_tensor_specs(names, [a.numpy() for a in args], axes),
                     outputs=_tensor_specs(OUTPUTS[kind], [o.numpy() for o in outs], axes),
                     opset=OPSET)

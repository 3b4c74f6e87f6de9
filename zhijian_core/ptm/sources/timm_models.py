"""``timm:<name>[@weights]``: a timm architecture, with weights only ever from a local file.

timm is never asked for ``pretrained=True`` (that downloads); without a weights file the model keeps
timm's random initialisation and is recorded as not pre-trained. The licence of a local weights
file is not known here and is recorded as ``None``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from zhijian_core.errors import MissingDependencyError, PTMError
from zhijian_core.preprocess.spec import ImagePreprocessSpec
from zhijian_core.ptm.digest import RANDOM_INIT, file_sha256
from zhijian_core.ptm.loaded import LoadedPTM
from zhijian_core.ptm.sources.registry import register_source
from zhijian_core.ptm.spec import PTMSpec

if TYPE_CHECKING:
    from torch import nn

# timm's interpolation names mapped to the Pillow filters of ImagePreprocessSpec ("random" is a
# training-time augmentation; evaluation uses bilinear).
_FILTERS = {"nearest": "nearest", "box": "box", "bilinear": "bilinear", "hamming": "hamming",
            "bicubic": "bicubic", "lanczos": "lanczos", "random": "bilinear"}


def _read_state_dict(weights: Path) -> dict:
    import torch

    if not weights.is_file():
        raise PTMError(f"timm weights file {weights} does not exist")
    try:
        if weights.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(weights), device="cpu")
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # the readers raise many unrelated types for a corrupt file
        raise PTMError(f"cannot read timm weights file {weights}: {exc}") from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training checkpoint wrapping the weights
    if not isinstance(state, dict):
        raise PTMError(f"timm weights file {weights} holds a {type(state).__name__}, "
                       "not a state dict")
    return state


def image_preprocess_from_timm(model: nn.Module) -> ImagePreprocessSpec:
    """Build the image preprocessing from a timm model's pretrained config.

    Args:
        model: A timm model (its ``pretrained_cfg`` gives size, interpolation, mean, std, crop_pct).

    Returns:
        Resize the short side to ``round(size / crop_pct)``, centre-crop ``size``, normalise.
    """
    from timm.data import resolve_data_config

    cfg = resolve_data_config({}, model=model)
    channels, height, _ = cfg["input_size"]
    crop_pct = float(cfg.get("crop_pct") or 1.0)
    return ImagePreprocessSpec(
        mode="L" if channels == 1 else "RGB",
        resize=round(height / crop_pct),
        resize_filter=_FILTERS.get(str(cfg.get("interpolation")), "bilinear"),
        crop=height,
        mean=tuple(float(v) for v in cfg["mean"]),
        std=tuple(float(v) for v in cfg["std"]),
    )


def is_timm_vit(model: nn.Module) -> bool:
    """Whether ``model`` is a timm Vision Transformer (transformer blocks over patch embeddings)."""
    return hasattr(model, "blocks") and hasattr(model, "patch_embed")


def load_timm(spec: PTMSpec, pretrained: bool) -> LoadedPTM:
    """Load a ``timm:`` spec.

    Args:
        spec: A parsed ``timm`` spec.
        pretrained: Read the spec's weights file, if it names one; ``False`` never reads it.

    Returns:
        The model behind :class:`TimmViTBackbone` or :class:`TimmCNNBackbone`.

    Raises:
        PTMError: Unknown model name, unreadable weights, or weights that do not fit the model.
        MissingDependencyError: timm is not installed.
    """
    try:
        import timm
    except ImportError as exc:
        raise MissingDependencyError("timm is needed for 'timm:' PTMs; install the 'train' "
                                     "extra: pip install 'zhijian[train]'") from exc
    from zhijian_core.ptm.backbone import TimmCNNBackbone, TimmViTBackbone

    if not timm.is_model(spec.name):
        raise PTMError(f"timm has no model named {spec.name!r} (from spec {spec.raw!r}); "
                       "list names with timm.list_models('<pattern>')")
    model = timm.create_model(spec.name, pretrained=False)
    load_weights = pretrained and spec.weights is not None
    if load_weights:
        state = _read_state_dict(spec.weights)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise PTMError(f"weights file {spec.weights} does not fit timm model "
                           f"{spec.name!r}: {exc}") from exc
    backbone = TimmViTBackbone(model) if is_timm_vit(model) else TimmCNNBackbone(model)
    return LoadedPTM(
        spec=spec.normalized,
        backbone=backbone,
        preprocess=image_preprocess_from_timm(model),
        assets_dir=None,
        identity=f"timm/{spec.name}" + (f" ({spec.weights.name})" if spec.weights else ""),
        digest=file_sha256(spec.weights) if load_weights else RANDOM_INIT,
        licence=None,  # the provenance of a local weights file is unknown
        pretrained=load_weights,
    )


register_source("timm", load_timm)

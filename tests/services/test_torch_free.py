"""The serving side never imports torch: not on import, not while loading and running a bundle."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import asyncio, sys, tempfile
from pathlib import Path
import numpy as np
import services, services.errors, services.routing, services.protocol, services.host, services.gateway
from services.host import HostConfig, HostRequest, ModelHost, StaticSource, Target
from services.protocol import Tensor
from tests.services.bundles import make_text_bundle

folder = Path(tempfile.mkdtemp()) / "texts"
make_text_bundle(folder)
host = ModelHost("texts", StaticSource({"texts": {1: folder}}, {"texts": {"production": 1}}))
array = np.empty(1, dtype=object)
array[:] = [b"good movie"]
request = HostRequest("r", Target(alias="production"), (Tensor("text", "BYTES", (1,), array, True),))

async def main():
    await host.sync()
    return await host.infer(request)

assert asyncio.run(main()).outputs["embedding"].shape == (1, 4)
heavy = sorted(n for n in ("torch", "torchvision", "transformers", "timm", "peft") if n in sys.modules)
assert not heavy, heavy
"""


def test_serving_never_imports_torch() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

"""SimpleShot: nearest class mean on centred, L2-normalised (CL2N) frozen PTM features."""

from zhijian_core.methods.simpleshot.config import SimpleShotConfig
from zhijian_core.methods.simpleshot.method import SimpleShot, cl2n

__all__ = ["SimpleShot", "SimpleShotConfig", "cl2n"]

"""The model host core (no Ray): verified bundles, ONNX Runtime sessions, batching, hot swap."""

from services.host.config import HostConfig
from services.host.interface import HostClient
from services.host.loaded import LoadedVersion
from services.host.messages import HostRequest, HostResponse, Readiness, Target
from services.host.model_host import SERVING_ALIASES, ModelHost
from services.host.source import BundleSource, RegistrySource, StaticSource

__all__ = ["SERVING_ALIASES", "BundleSource", "HostClient", "HostConfig", "HostRequest",
           "HostResponse", "LoadedVersion", "ModelHost", "Readiness", "RegistrySource",
           "StaticSource", "Target"]

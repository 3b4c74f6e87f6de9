"""The public surface of the serving packages, with a docstring on every callable member."""

from __future__ import annotations

import pytest

import services.gateway as gateway
import services.host as host
import services.protocol as protocol

SURFACES = {
    protocol: ["BYTES", "DATATYPES", "HEADER_LENGTH", "DecodedRequest", "InferRequest",
               "InferResponse", "MetadataTensor", "ModelInput", "ModelMetadata", "RequestInput",
               "RequestOutput", "ResponseOutput", "ServerMetadata", "Signature", "Tensor",
               "TensorInfo", "decode_bytes_elements", "decode_infer_request",
               "encode_bytes_elements", "encode_infer_response"],
    host: ["BundleSource", "HostClient", "HostConfig", "HostRequest", "HostResponse",
           "LoadedVersion", "ModelHost", "Readiness", "RegistrySource", "SERVING_ALIASES",
           "StaticSource", "Target"],
    gateway: ["ADMIN_TOKEN_ENV", "Fleet", "Gateway", "GatewayConfig", "MODEL_VERSION", "REQUEST_ID",
              "create_app"],
}


@pytest.mark.parametrize("module", list(SURFACES), ids=lambda m: m.__name__)
def test_exported_members(module) -> None:
    assert sorted(module.__all__) == sorted(SURFACES[module])
    for name in module.__all__:
        member = getattr(module, name)
        if callable(member):
            assert member.__doc__, f"{module.__name__}.{name} has no docstring"

"""The real ``tritonclient.http`` client, binary and JSON mode, against the gateway served by
uvicorn on a free port (in a background thread)."""

from __future__ import annotations

import base64
from typing import Iterator

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tests.services.bundles import png_bytes
from tests.services.gateways import build_app, serving_over_http


@pytest.fixture(scope="module")
def server(bundle_root) -> Iterator[str]:
    versions = {name: {int(p.name): p for p in (bundle_root / name).iterdir()}
                for name in ("images", "texts")}
    app = build_app(versions, {"images": {"production": 1}, "texts": {"production": 2}})
    with serving_over_http(app) as port:
        yield f"127.0.0.1:{port}"


@pytest.fixture
def client(server: str) -> Iterator[httpclient.InferenceServerClient]:
    client = httpclient.InferenceServerClient(server)
    yield client
    client.close()


def bytes_input(name: str, items: list[bytes], binary: bool) -> httpclient.InferInput:
    tensor = httpclient.InferInput(name, [len(items)], "BYTES")
    tensor.set_data_from_numpy(np.array(items, dtype=object), binary_data=binary)
    return tensor


def test_health_metadata_and_statistics(client: httpclient.InferenceServerClient) -> None:
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("images") and client.is_model_ready("texts", "2")
    assert not client.is_model_ready("nope")
    assert client.get_server_metadata()["name"] == "zhijian"
    metadata = client.get_model_metadata("texts")
    assert metadata["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert metadata["versions"] == ["2"]
    client.infer("texts", [bytes_input("text", [b"good"], True)])
    stats = client.get_inference_statistics("texts")
    assert stats["model_stats"][0]["inference_count"] >= 1
    index = client.get_model_repository_index()
    assert {entry["name"] for entry in index} == {"images", "texts"}
    with pytest.raises(InferenceServerException, match="not served"):
        client.get_model_metadata("nope")


@pytest.mark.parametrize("binary", [True, False])
def test_bytes_text(client: httpclient.InferenceServerClient, binary: bool) -> None:
    outputs = [httpclient.InferRequestedOutput("embedding", binary_data=binary)]
    result = client.infer("texts", [bytes_input("text", [b"good movie", b"awful flight"], binary)],
                          outputs=outputs, request_id="t-1")
    vectors = result.as_numpy("embedding")
    assert vectors.shape == (2, 4) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    response = result.get_response()
    assert response["id"] == "t-1" and response["model_version"] == "2"


@pytest.mark.parametrize("binary", [True, False])
def test_bytes_images(client: httpclient.InferenceServerClient, binary: bool) -> None:
    images = [png_bytes(), png_bytes((0, 90, 200), fmt="JPEG")]
    items = images if binary else [base64.b64encode(i) for i in images]
    outputs = [httpclient.InferRequestedOutput("probabilities", binary_data=binary)]
    result = client.infer("images", [bytes_input("image", items, binary)], outputs=outputs,
                          model_version="1")
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (2, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert result.as_numpy("logits") is None


@pytest.mark.parametrize("binary", [True, False])
def test_tensors(client: httpclient.InferenceServerClient, binary: bool) -> None:
    pixels = np.random.default_rng(0).normal(size=(3, 3, 8, 8)).astype(np.float32)
    tensor = httpclient.InferInput("pixel_values", list(pixels.shape), "FP32")
    tensor.set_data_from_numpy(pixels, binary_data=binary)
    result = client.infer("images", [tensor])
    logits = result.as_numpy("logits")
    assert logits.shape == (3, 2)
    np.testing.assert_allclose(result.as_numpy("probabilities").sum(axis=1), 1.0, atol=1e-6)


def test_errors_reach_the_client(client: httpclient.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException, match="not an input set"):
        client.infer("images", [bytes_input("text", [b"x"], True)])
    with pytest.raises(InferenceServerException, match="cannot be decoded"):
        client.infer("images", [bytes_input("image", [b"not an image"], True)])

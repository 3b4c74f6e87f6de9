"""The OIP v2 surface of the gateway, in-process (FastAPI's TestClient on tiny bundles)."""

from __future__ import annotations

import base64
import json
from typing import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from services.protocol import HEADER_LENGTH, encode_bytes_elements
from services.routing import goes_to_canary
from tests.services.bundles import png_bytes
from tests.services.gateways import build_app


@pytest.fixture
def client(versions: dict) -> Iterator[TestClient]:
    app = build_app(versions, {"images": {"production": 1, "canary": 2}, "texts": {"production": 1}},
                    percents={"images": 30})
    with TestClient(app) as client:
        yield client


def text_request(texts: list[str], **extra) -> dict:
    return {"inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}],
            **extra}


def test_health_server_metadata_and_index(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    server = client.get("/v2").json()
    assert server["name"] == "zhijian" and "binary_tensor_data" in server["extensions"]
    index = client.post("/v2/repository/index").json()
    assert {(e["name"], e["alias"], e["version"]) for e in index} == {
        ("images", "production", "1"), ("images", "canary", "2"), ("texts", "production", "1")}


def test_model_metadata_and_readiness(client: TestClient) -> None:
    metadata = client.get("/v2/models/images").json()
    assert metadata["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
    assert [o["name"] for o in metadata["outputs"]] == ["probabilities", "logits"]
    assert metadata["parameters"]["tensor_inputs"][0]["shape"] == [-1, 3, 8, 8]
    assert metadata["parameters"]["labels"] == ["cat", "dog"]
    assert client.get("/v2/models/images/versions/2").json()["parameters"]["version"] == 2
    assert client.get("/v2/models/images/ready").json() == {"name": "images", "ready": True}
    assert client.get("/v2/models/images/versions/4/ready").status_code == 200


def test_infer_json_text_echoes_id_and_names_the_version(client: TestClient) -> None:
    response = client.post("/v2/models/texts/infer", headers={"X-Request-Id": "req-42"},
                           json=text_request(["good movie", "bad flight"], id="oip-7"))
    assert response.status_code == 200, response.text
    assert response.headers["X-Request-Id"] == "req-42"
    assert response.headers["X-Zhijian-Model-Version"] == "1"
    body = response.json()
    assert body["id"] == "oip-7" and body["model_name"] == "texts" and body["model_version"] == "1"
    [output] = body["outputs"]
    assert output["name"] == "embedding" and output["shape"] == [2, 4]
    vectors = np.array(output["data"]).reshape(2, 4)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert len(client.get("/v2/health/live").headers["X-Request-Id"]) == 32


def test_infer_json_base64_image_and_output_selection(client: TestClient) -> None:
    image = base64.b64encode(png_bytes()).decode()
    body = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": [image]}],
            "outputs": [{"name": "logits"}]}
    response = client.post("/v2/models/images/versions/3/infer", json=body)
    assert response.status_code == 200, response.text
    outputs = response.json()["outputs"]
    assert [o["name"] for o in outputs] == ["logits"] and response.json()["model_version"] == "3"


def test_infer_binary_images_and_binary_outputs(client: TestClient) -> None:
    images = encode_bytes_elements([png_bytes(), png_bytes((0, 0, 255), fmt="JPEG")])
    header = json.dumps({
        "inputs": [{"name": "image", "shape": [2], "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(images)}}],
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}},
                    {"name": "logits", "parameters": {"binary_data": False}}]}).encode()
    response = client.post("/v2/models/images/versions/1/infer", content=header + images,
                           headers={HEADER_LENGTH: str(len(header)),
                                    "Content-Type": "application/octet-stream"})
    assert response.status_code == 200, response.text
    length = int(response.headers[HEADER_LENGTH])
    document = json.loads(response.content[:length])
    probabilities = np.frombuffer(response.content[length:], dtype=np.float32).reshape(2, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert document["outputs"][1]["data"] and "data" not in document["outputs"][0]


def test_infer_tensors_match_raw_input(client: TestClient) -> None:
    raw = client.post("/v2/models/texts/infer", json=text_request(["good movie"])).json()
    tensors = {"inputs": [
        {"name": "input_ids", "shape": [1, 4], "datatype": "INT64", "data": [2, 4, 6, 3]},
        {"name": "attention_mask", "shape": [1, 4], "datatype": "INT64", "data": [1, 1, 1, 1]}]}
    answer = client.post("/v2/models/texts/infer", json=tensors).json()
    np.testing.assert_allclose(answer["outputs"][0]["data"], raw["outputs"][0]["data"], atol=1e-6)


def test_canary_routing_follows_the_route_key(client: TestClient) -> None:
    image = base64.b64encode(png_bytes()).decode()
    body = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": [image]}]}
    for i in range(60):
        key = f"user-{i}"
        response = client.post("/v2/models/images/infer", json=body,
                               headers={"X-Zhijian-Route-Key": key})
        assert response.json()["model_version"] == ("2" if goes_to_canary(key, 30) else "1")
    by_id = client.post("/v2/models/images/infer", json={**body, "id": "user-3"})
    assert by_id.json()["model_version"] == ("2" if goes_to_canary("user-3", 30) else "1")


def test_statistics_count_inferences(client: TestClient) -> None:
    for _ in range(3):
        client.post("/v2/models/texts/infer", json=text_request(["good", "bad"]))
    stats = client.get("/v2/models/texts/stats").json()
    [entry] = stats["model_stats"]
    assert entry["name"] == "texts" and entry["version"] == "1"
    assert entry["inference_count"] == 6 and entry["execution_count"] == 3
    assert entry["inference_stats"]["success"]["count"] == 3
    assert stats["host"]["loads"] == 1
    assert client.get("/v2/models/texts/versions/1/stats").json()["model_stats"][0]["version"] == "1"
    assert [e["name"] for e in client.get("/v2/models/stats").json()["model_stats"]] == ["texts"]


def test_v1_predict_labels_and_vectors(client: TestClient) -> None:
    image = {"b64": base64.b64encode(png_bytes()).decode()}
    answer = client.post("/v1/models/images:predict", json={"instances": [image, image]},
                         headers={"X-Zhijian-Route-Key": "user-1"})
    assert answer.status_code == 200, answer.text
    [first, second] = answer.json()["predictions"]
    assert first == second and first["label"] in ("cat", "dog")
    assert sum(first["scores"].values()) == pytest.approx(1.0, abs=1e-5)
    vectors = client.post("/v1/models/texts:predict", json={"instances": ["good movie"]}).json()
    assert len(vectors["predictions"][0]) == 4 and vectors["model_version"] == "1"
    as_curl = client.post("/v1/models/texts:predict", content=b'{"instances": ["good movie"]}',
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert as_curl.json()["predictions"] == vectors["predictions"]


def test_openapi_declares_the_infer_body(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    body = document["paths"]["/v2/models/{model}/infer"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/InferRequest"}
    schemas = document["components"]["schemas"]
    assert {"inputs", "outputs", "id", "parameters"} <= set(schemas["InferRequest"]["properties"])
    assert "RequestInput" in schemas
    predict = document["paths"]["/v1/models/{model}:predict"]["post"]["requestBody"]
    assert predict["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PredictRequest"}
    assert "instances" in schemas["PredictRequest"]["properties"] and "Base64Image" in schemas


def test_the_gateway_polls_the_source(versions: dict) -> None:
    import time

    aliases = {"images": {"production": 1}, "texts": {"production": 1}}
    app = build_app(versions, aliases, poll_interval_s=0.05)
    source = app.app.state.gateway.fleet.hosts["images"]._source
    with TestClient(app) as client:
        body = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                            "data": [base64.b64encode(png_bytes()).decode()]}]}
        assert client.post("/v2/models/images/infer", json=body).json()["model_version"] == "1"
        source.alias_table["images"] = {"production": 4}
        deadline = time.monotonic() + 10
        while client.post("/v2/models/images/infer", json=body).json()["model_version"] != "4":
            assert time.monotonic() < deadline, "the gateway did not follow the new alias"
            time.sleep(0.05)


def test_an_alias_move_under_steady_load_fails_no_request(versions: dict) -> None:
    import asyncio

    import httpx

    from tests.services.gateways import TOKEN

    app = build_app(versions, {"images": {"production": 1}, "texts": {"production": 1}})
    gateway = app.app.state.gateway
    body = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                        "data": [base64.b64encode(png_bytes()).decode()]}]}

    async def main() -> None:
        await gateway.fleet.refresh()  # what the lifespan does; ASGITransport runs no lifespan
        answers: list[tuple[int, str]] = []
        stop = asyncio.Event()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            async def steady() -> None:
                while not stop.is_set():
                    response = await client.post("/v2/models/images/infer", json=body)
                    version = response.headers.get("X-Zhijian-Model-Version")
                    answers.append((response.status_code, version))

            clients = [asyncio.ensure_future(steady()) for _ in range(4)]
            await asyncio.sleep(0.2)
            gateway.fleet.hosts["images"]._source.alias_table["images"] = {"production": 2}
            reload = await client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
            assert reload.json()["serving"]["images"] == {"production": 2}
            await asyncio.sleep(0.2)
            stop.set()
            await asyncio.gather(*clients)
        assert {status for status, _ in answers} == {200}
        assert answers[0][1] == "1" and answers[-1][1] == "2"

    asyncio.run(main())

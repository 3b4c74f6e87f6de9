"""A request routed to a canary that its host has just dropped (rolled back before this gateway
refreshed) is answered by production, never with a 404."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from services.gateway import Fleet, GatewayConfig, create_app
from services.host import ModelHost, StaticSource
from tests.services.gateways import TOKEN, Recorder

PIXELS = json.dumps({"inputs": [{"name": "pixel_values", "datatype": "FP32",
                                 "shape": [1, 3, 8, 8],
                                 "data": np.linspace(0, 1, 192).tolist()}]})


def test_a_dropped_canary_falls_back_to_production(versions: dict[str, dict[int, Path]]) -> None:
    source = StaticSource({"images": versions["images"]},
                          {"images": {"production": 1, "canary": 2}})
    host = ModelHost("images", source)
    fleet = Fleet({"images": host}, lambda name: 100)  # every request goes to the canary
    app = Recorder(create_app(GatewayConfig(admin_token=TOKEN, poll_interval_s=0), fleet))
    with TestClient(app) as client:
        infer = "/v2/models/images/infer"
        assert client.post(infer, content=PIXELS).json()["model_version"] == "2"
        del source.alias_table["images"]["canary"]  # rolled back in the registry ...
        client.portal.call(host.sync)  # ... the host followed, the gateway has not refreshed
        assert "canary" in fleet.serving["images"]
        answer = client.post(infer, content=PIXELS)
        assert answer.status_code == 200 and answer.json()["model_version"] == "1"
        # a version asked for by number is never replaced
        assert client.post("/v2/models/images/versions/9/infer", content=PIXELS).status_code == 404

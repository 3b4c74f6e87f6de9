"""The same guarantees over a real socket (uvicorn on 127.0.0.1, a background thread): a request
claiming a gigabyte body is answered 413 at once while the client is still holding the body back,
and the real Triton client works with the API key and is refused without it."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tests.services.gateways import build_app, serving_over_http

API_KEY = "socket-api-key-0123456789abcdef"


@pytest.fixture(scope="module")
def server(reliability_bundles: dict[str, dict[int, Path]]) -> Iterator[tuple[str, int]]:
    app = build_app({"texts": reliability_bundles["texts"]}, {"texts": {"production": 1}},
                    api_key=API_KEY, max_body_bytes=1 << 20)
    with serving_over_http(app) as port:
        yield "127.0.0.1", port


def test_a_gigabyte_claim_is_413_before_the_body_is_sent(server: tuple[str, int]) -> None:
    host, port = server
    with socket.create_connection(server, timeout=5) as sock:
        sock.sendall(f"POST /v1/models/texts:predict HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
                     "Content-Length: 1073741824\r\n\r\n{\"inst".encode())
        start = time.perf_counter()
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        elapsed = time.perf_counter() - start
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:200]
    assert "more than the 1048576" in json.loads(body)["error"]
    assert elapsed < 1.0  # answered with 1 GB still unsent


def test_the_triton_client_needs_the_api_key(server: tuple[str, int]) -> None:
    url = "%s:%d" % server
    text = httpclient.InferInput("text", [1], "BYTES")
    text.set_data_from_numpy(np.array([b"good movie"], dtype=object))
    with httpclient.InferenceServerClient(url) as client:
        assert client.is_server_live() and client.is_server_ready()
        with pytest.raises(InferenceServerException, match="API key"):
            client.infer("texts", [text])
        result = client.infer("texts", [text], headers={"Authorization": f"Bearer {API_KEY}"})
        assert result.as_numpy("embedding").shape == (1, 4)
        with pytest.raises(InferenceServerException, match="not valid"):
            client.infer("texts", [text], headers={"Authorization": "Bearer not-the-key"})

"""The servers of the serving benchmark (:mod:`benchmarks.serving`): the model it serves, and the
four ways besides the in-process ceiling of serving it (plain FastAPI + ONNX Runtime, naive FastAPI +
PyTorch eager, a bare one-deployment Ray Serve app, and ours), each started and stopped here."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from benchmarks.local_ray import QUIET, start_serve, wait_ready
from services.net import free_port

ROOT = Path(__file__).resolve().parents[1]
MODEL = "bench-tweets"
DATA = {"dataset": "airline-tweets", "train_size": 500, "val_size": 100, "test_size": 300}
THREADS = 2
"""ONNX Runtime intra-op threads and PyTorch threads, everywhere: this machine's cores."""
HTTP_SERVERS = ("fastapi-ort", "fastapi-torch-naive")
RAY_SERVERS = ("bare-ray-serve", "zhijian")

# ---- the model ----------------------------------------------------------------------------------
def prepare(work: Path) -> None:
    """Fit and export the bundle, save the PyTorch module and the test tweets (reused if there)."""
    if (work / "texts.json").is_file():
        print(f"reusing the bundle in {work}", flush=True)
        return
    from zhijian_core.data.config import DataConfig
    from zhijian_core.export import from_method, write_model_bundle

    started = time.perf_counter()
    source = from_method("ncm", "minilm-l6", DataConfig(**DATA))
    write_model_bundle(source, MODEL, work / "bundle")
    # The PyTorch module for the naive server: weights (safetensors) + the architecture it is
    # rebuilt from, as stored runs are; never a pickle.
    from safetensors.torch import save_file

    from zhijian_core.model import ArchitectureConfig

    module = source.module.eval()
    architecture = ArchitectureConfig(ptm="minilm-l6", num_classes=module.num_classes,
                                      feature_norm=module.feature_norm)
    (work / "architecture.json").write_text(architecture.model_dump_json())
    save_file({k: v.contiguous() for k, v in module.state_dict().items()},
              str(work / "module.safetensors"))
    (work / "texts.json").write_text(json.dumps(list(source.evaluation.test.inputs)))
    print(f"fitted and exported the MiniLM-L6 ncm bundle in {time.perf_counter() - started:.0f} s",
          flush=True)


def ort_model(bundle: Path) -> tuple[Any, Any, tuple[str, ...]]:
    """The bundle's session (as the service creates it), its preprocessor and its labels."""
    from services.host.config import HostConfig
    from services.host.session import create_session
    from zhijian_core.bundle.io import MODEL as ONNX_FILE
    from zhijian_core.bundle.io import verify_bundle
    from zhijian_core.preprocess import build_preprocessor

    manifest = verify_bundle(bundle)
    session, _ = create_session(bundle / ONNX_FILE, HostConfig(cpus=THREADS))
    return session, build_preprocessor(manifest.io.preprocess, bundle), tuple(manifest.task.labels)


def answer(probabilities: np.ndarray, labels: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each row's label and scores, as every server answers."""
    return [{"label": labels[int(np.argmax(row))],
             "scores": {label: float(s) for label, s in zip(labels, row)}} for row in probabilities]


class OrtClassifier:
    """Raw tweets to answers with the bundle's session (what in-process, bare Ray and FastAPI+ORT
    all call)."""

    def __init__(self, bundle: Path) -> None:
        self.session, self.preprocess, self.labels = ort_model(bundle)
        self.output = "probabilities" if any(o.name == "probabilities" for o in
                                             self.session.get_outputs()) else None

    def __call__(self, texts: list[str]) -> list[dict[str, Any]]:
        return self.timed(texts)[0]

    def timed(self, texts: list[str]) -> tuple[list[dict[str, Any]], dict[str, float]]:
        """The answers, and the milliseconds spent tokenizing (``input``) and in ``session.run``
        (``infer``)."""
        start = time.perf_counter()
        feeds = self.preprocess(texts)
        tokenized = time.perf_counter()
        values = self.session.run([self.output] if self.output else None, feeds)
        ran = time.perf_counter()
        return answer(values[0], self.labels), {"input": (tokenized - start) * 1e3,
                                                "infer": (ran - tokenized) * 1e3}


# ---- the servers --------------------------------------------------------------------------------
class PredictBody(BaseModel):
    """The request body every HTTP server takes."""

    instances: list[str]


def fastapi_ort_app(work: Path) -> Any:
    """Plain FastAPI + ONNX Runtime: a sync endpoint (FastAPI runs it in its thread pool)."""
    from fastapi import FastAPI

    model = OrtClassifier(work / "bundle")
    app = FastAPI()

    @app.get("/health")
    def health() -> dict:
        return {"ok": True}

    @app.post("/predict")
    def predict(body: PredictBody) -> dict:
        return {"predictions": model(body.instances)}

    return app


def fastapi_torch_app(work: Path) -> Any:
    """FastAPI + PyTorch eager, one request at a time (the compute blocks the event loop)."""
    import torch
    from fastapi import FastAPI

    from zhijian_core.bundle.io import verify_bundle
    from zhijian_core.preprocess import build_preprocessor

    torch.set_num_threads(THREADS)
    from safetensors.torch import load_file

    from zhijian_core.model import ArchitectureConfig, build_classifier
    from zhijian_core.ptm.load import load_ptm

    architecture = ArchitectureConfig.model_validate_json((work / "architecture.json").read_text())
    module = build_classifier(architecture, load_ptm(architecture.ptm, pretrained=False).backbone)
    module.load_state_dict(load_file(str(work / "module.safetensors")))
    module.eval()
    manifest = verify_bundle(work / "bundle")
    tokenize = build_preprocessor(manifest.io.preprocess, work / "bundle")
    labels = tuple(manifest.task.labels)
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict:
        return {"ok": True}

    @app.post("/predict")
    async def predict(body: PredictBody) -> dict:
        batch = {k: torch.from_numpy(v) for k, v in tokenize(body.instances).items()}
        with torch.inference_mode():
            probabilities = torch.softmax(module(batch), dim=-1).numpy()
        return {"predictions": answer(probabilities, labels)}

    return app


def bare_ray_deployment(server_timing: bool = False) -> Any:
    """The plain peer: one ``@serve.deployment`` with a starlette ``__call__`` over the session.

    With ``server_timing`` it answers with a ``Server-Timing`` header as our gateway does: ``app``
    (its ``__call__`` until the answer is built), ``input`` (tokenizing) and ``infer``.
    """
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from services.gateway.middleware import server_timing as timing_header

    @serve.deployment(ray_actor_options={"num_cpus": 0.5})
    class BareOrt:
        def __init__(self, bundle: str) -> None:
            self.model = OrtClassifier(Path(bundle))

        async def __call__(self, request: Request) -> JSONResponse:
            start = time.perf_counter()
            body = await request.json()
            predictions, stages = self.model.timed(body["instances"])
            headers = ({"Server-Timing": timing_header(
                [("app", (time.perf_counter() - start) * 1e3), *stages.items()])}
                if server_timing else {})
            return JSONResponse({"predictions": predictions}, headers=headers)

    return BareOrt


def serve_subprocess(kind: str, work: Path, port: int) -> None:
    """The body of a server subprocess: uvicorn on 127.0.0.1:``port``, no access log."""
    import uvicorn

    app = fastapi_ort_app(work) if kind == "fastapi-ort" else fastapi_torch_app(work)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class Subprocesses:
    """The two uvicorn servers, each in its own process."""

    def __init__(self, work: Path) -> None:
        self.procs: dict[str, subprocess.Popen] = {}
        self.urls: dict[str, str] = {}
        for kind in HTTP_SERVERS:
            port = free_port()
            self.procs[kind] = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.serving", "--serve", kind, "--work", str(work),
                 "--port", str(port)], cwd=ROOT)
            self.urls[kind] = f"http://127.0.0.1:{port}/predict"
        for kind in HTTP_SERVERS:
            wait_ready(self.urls[kind].removesuffix("/predict") + "/health")

    def close(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            proc.wait(30)


class RayApps:
    """A local Ray with both Ray Serve apps: the bare peer under ``/bare``, ours under ``/``.

    Args:
        work: The benchmark's folder (bundle, registry).
        server_timing: Both apps answer with a ``Server-Timing`` header (our gateway's
            ``server_timing``; the bare app's own, see :func:`bare_ray_deployment`).
    """

    def __init__(self, work: Path, server_timing: bool = False) -> None:
        from ray import serve

        from services.host.config import HostConfig
        from services.serve.builder import build_app
        from services.serve.config import ServeArgs

        port = start_serve(work, MODEL, THREADS, "serving benchmark")  # both apps behind HAProxy
        serve.run(bare_ray_deployment(server_timing).bind(str(work / "bundle")), name="bare",
                  route_prefix="/bare", logging_config=QUIET)
        serve.run(build_app(ServeArgs(models=[MODEL], host=HostConfig(cpus=THREADS),
                                      host_num_cpus=0.5, gateway_num_cpus=0.1,
                                      gateway={"server_timing": server_timing})),
                  name="zhijian", route_prefix="/", logging_config=QUIET)
        base = f"http://127.0.0.1:{port}"
        self.urls = {"bare-ray-serve": f"{base}/bare", "zhijian": f"{base}/v1/models/{MODEL}:predict"}
        for url in self.urls.values():
            wait_ready(url, body={"instances": ["warm up"]})

    def batch_sizes(self) -> dict[str, int]:
        """Batch size to ``session.run`` count of our host over the whole run (its OIP stats)."""
        import httpx

        base = self.urls["zhijian"].split("/v1/")[0]
        stats = httpx.get(f"{base}/v2/models/{MODEL}/stats", timeout=30).json()["model_stats"][0]
        return {str(entry["batch_size"]): entry["compute_infer"]["count"]
                for entry in stats["batch_stats"]}

    def close(self) -> None:
        import ray
        from ray import serve

        serve.shutdown()
        ray.shutdown()

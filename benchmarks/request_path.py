"""Where one request's time goes at concurrency 1: our service against the bare Ray Serve app,
stage by stage (issue 5's p50 target; ``benchmarks/serving.py`` measures the totals).

Both apps run on one local Ray behind HAProxy with the same bundle, as in the serving benchmark
(``benchmarks.serving_servers.RayApps``). Ours runs with ``GatewayConfig.server_timing``, so each
answer carries a ``Server-Timing`` header: the gateway's time until the answer, the host call's,
and the host's stages (queue, input, infer, output). The bare app here is the serving benchmark's,
timed the same way (its ``__call__``, tokenizing, ``session.run``). The client times each request.
Per request:

- ``ingress`` = client total - the server's own total: the client, HAProxy, the replica's HTTP
  server and Ray Serve's ASGI wrapper, both ways;
- ours: ``gateway`` = gateway - host call (our middleware, route, JSON, validation, admission);
  ``hop`` = host call - (queue + input + infer + output): Ray's handle, router and gRPC channel
  both ways, the host replica's request wrapper, the batcher's and the worker thread's hand-offs;
  then ``queue``, ``input`` (tokenizing, padding), ``infer`` (``session.run``), ``output``;
- bare: ``app`` = its ``__call__`` - input - infer (JSON in and out); ``input``; ``infer``.

Each run sends ``--requests`` sequential requests per app, the apps taking turns in blocks of 25;
the median of each stage per run, then the median over runs (min-max). Writes
``benchmarks/results/request-path/{results.json,summary.md}``.

    nice -n -5 .venv/bin/python -m benchmarks.request_path [--runs 3] [--requests 300] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.serving_servers import ROOT, RayApps, prepare

BLOCK = 25


def parse_server_timing(header: str) -> dict[str, float]:
    """``{name: milliseconds}`` of a ``Server-Timing`` value made of ``name;dur=ms`` entries."""
    stages = {}
    for entry in header.split(","):
        name, _, rest = entry.strip().partition(";")
        for parameter in rest.split(";"):
            key, _, value = parameter.strip().partition("=")
            if key == "dur":
                stages[name] = float(value)
    return stages


def stages_of(kind: str, total_ms: float, timing: dict[str, float]) -> dict[str, float]:
    """One request's stages (see the module doc) from its total and its ``Server-Timing``."""
    if kind == "zhijian":
        host_stages = sum(timing.get(k, 0.0) for k in ("queue", "input", "infer", "output"))
        return {"total": total_ms, "ingress": total_ms - timing["gateway"],
                "gateway": timing["gateway"] - timing["host"], "hop": timing["host"] - host_stages,
                **{k: timing.get(k, 0.0) for k in ("queue", "input", "infer", "output")}}
    return {"total": total_ms, "ingress": total_ms - timing["app"],
            "app": timing["app"] - timing["input"] - timing["infer"],
            "input": timing["input"], "infer": timing["infer"]}


def measure(urls: dict[str, str], texts: list[str], requests: int) -> dict[str, dict[str, float]]:
    """One run: median of each stage per app over ``requests`` sequential requests per app."""
    import httpx

    samples: dict[str, list[dict[str, float]]] = {kind: [] for kind in urls}
    with httpx.Client(timeout=60) as client:
        for kind, url in urls.items():  # warm-up
            for text in texts[:20]:
                client.post(url, json={"instances": [text]}).raise_for_status()
        for first in range(0, requests, BLOCK):
            for kind, url in urls.items():
                for index in range(first, min(first + BLOCK, requests)):
                    body = json.dumps({"instances": [texts[index % len(texts)]]})
                    start = time.perf_counter()
                    reply = client.post(url, content=body,
                                        headers={"content-type": "application/json"})
                    total_ms = (time.perf_counter() - start) * 1e3
                    if reply.status_code != 200:
                        raise RuntimeError(f"{url} answered {reply.status_code}: {reply.text[:200]}")
                    timing = parse_server_timing(reply.headers["server-timing"])
                    samples[kind].append(stages_of(kind, total_ms, timing))
    return {kind: {stage: statistics.median(s[stage] for s in rows) for stage in rows[0]}
            for kind, rows in samples.items()}


def aggregate(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Median over runs (with min and max) of each app's per-run stage medians."""
    return {kind: {stage: {"median": statistics.median(r[kind][stage] for r in runs),
                           "min": min(r[kind][stage] for r in runs),
                           "max": max(r[kind][stage] for r in runs)}
                   for stage in runs[0][kind]}
            for kind in runs[0]}


def render(result: dict[str, Any], meta: dict[str, Any]) -> str:
    ours, bare = result["zhijian"], result["bare-ray-serve"]

    def cell(stats: dict[str, float] | None) -> str:
        return "" if stats is None else (f"{stats['median']:.2f} ({stats['min']:.2f}-"
                                         f"{stats['max']:.2f})")

    rows = [("total (client)", "total", "total"),
            ("ingress: client, HAProxy, the replica's HTTP server, Ray's ASGI wrapper",
             "ingress", "ingress"),
            ("gateway: middleware, route, JSON, validation, admission", "gateway", None),
            ("bare app: JSON in and out", None, "app"),
            ("hop: handle, router, gRPC both ways, host wrapper, batcher and thread hand-offs",
             "hop", None),
            ("queue (the host's batcher)", "queue", None),
            ("input (tokenizing)", "input", "input"),
            ("infer (`session.run`)", "infer", "infer"),
            ("output (splitting the outputs)", "output", None)]
    lines = ["# Where a request's time goes at concurrency 1: ours against the bare Ray Serve app",
             "",
             f"{meta['started']}, {meta['machine']}. The serving benchmark's MiniLM-L6 tweet "
             f"classifier and its two Ray Serve apps on one local Ray behind HAProxy; "
             f"{meta['requests']} sequential requests per app and run, the apps taking turns in "
             f"blocks of {BLOCK}; per run the median of each stage, then the median over "
             f"{meta['runs']} runs (min-max), in milliseconds. Stages from each answer's "
             f"`Server-Timing` header and the client's own clock (how each is derived: "
             f"`benchmarks/request_path.py`). Took {meta['minutes']:.1f} min. Reproduce: "
             f"`{meta['command']}`.", "",
             "| stage | ours | bare Ray Serve app |", "|---|---|---|"]
    for label, mine, theirs in rows:
        lines.append(f"| {label} | {cell(ours.get(mine) if mine else None)} | "
                     f"{cell(bare.get(theirs) if theirs else None)} |")
    gap = ours["total"]["median"] - bare["total"]["median"]
    extra = {"hop": ours["hop"]["median"],
             "gateway - bare app": ours["gateway"]["median"] - bare["app"]["median"],
             "input + output + queue - bare input": (ours["input"]["median"] + ours["output"]["median"]
                                                     + ours["queue"]["median"]
                                                     - bare["input"]["median"])}
    lines += ["", f"Ours takes {gap:.2f} ms more than the bare app "
              f"({ours['total']['median'] / bare['total']['median']:.2f}x). Of that: "
              + ", ".join(f"{name} {value:.2f} ms" for name, value in extra.items())
              + ". Without the hop ours would take "
              f"{(ours['total']['median'] - ours['hop']['median']) / bare['total']['median']:.2f}x "
              "the bare app's time."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "request-path")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the bundle and the registry (reused when it holds them)")
    args = parser.parse_args()
    started = time.time()
    work = args.work or Path(tempfile.mkdtemp(prefix="zhijian-request-path-"))
    work.mkdir(parents=True, exist_ok=True)
    prepare(work)
    texts = json.loads((work / "texts.json").read_text())
    apps = RayApps(work, server_timing=True)
    try:
        urls = {"zhijian": apps.urls["zhijian"], "bare-ray-serve": apps.urls["bare-ray-serve"]}
        runs = []
        for number in range(args.runs):
            runs.append(measure(urls, texts, args.requests))
            print(f"  run {number + 1}/{args.runs}: " + "; ".join(
                f"{kind} total {stages['total']:.2f} ms" for kind, stages in runs[-1].items()),
                flush=True)
    finally:
        apps.close()
    result = aggregate(runs)
    meta = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "runs": args.runs,
            "requests": args.requests, "minutes": (time.time() - started) / 60,
            "command": "nice -n -5 .venv/bin/python -m benchmarks.request_path "
                       f"--runs {args.runs} --requests {args.requests}"}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "runs": runs,
                                                       "result": result}, indent=2))
    summary = render(result, meta)
    (args.out / "summary.md").write_text(summary)
    print(summary)


if __name__ == "__main__":
    main()

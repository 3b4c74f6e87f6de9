"""Benchmark of serving one real model five ways on the same cores (issue 5, "What it must show").

The model is a MiniLM-L6 nearest-class-mean classifier (``ncm`` on airline tweets, exported as a
bundle here, about a minute); every server gets raw tweets from its test split as
``POST {"instances": ["<tweet>"]}`` and answers each with its label and scores:

1. ``in-process-ort`` (the ceiling): the bundle's ONNX Runtime session and the torch-free
   preprocessing called directly, one tweet at a time and in batches of 1 to 32;
2. ``bare-ray-serve`` (the plain peer): a one-deployment Ray Serve app calling the same session
   from a plain ``@serve.deployment`` class with a starlette ``__call__``, Ray Serve's defaults;
3. ``fastapi-ort``: plain FastAPI + ONNX Runtime in one uvicorn process (a sync endpoint, FastAPI's
   thread pool);
4. ``fastapi-torch-naive``: FastAPI + the finalized PyTorch module in eager mode, tokenized with the
   same tokenizer, one request at a time (what a proof of concept usually is);
5. ``zhijian``: our service (``services.serve.builder.build_app`` on a local Ray, the bundle
   registered and promoted to production, ``POST /v1/models/{m}:predict``).

Every ONNX Runtime session is the service's own (``services.host.session.create_session``) with 2
intra-op threads, PyTorch runs 2 threads. The load generator is one asyncio ``httpx`` client in this
process (keep-alive connections, one per concurrent caller); its own CPU time per request is
measured and reported, and so is the CPU time per request of each Ray process. Per run:
p50/p99 latency and throughput at concurrency 1 (sequential requests, the servers of a phase taking
turns in blocks of 25 so that each meets the same load from the rest of the machine), then
throughput (and latencies) at concurrency 8 and 32 over a fixed window, one server after the other.
Three runs; the median over runs with min-max is reported. The non-Ray servers are measured while
Ray is down, and Ray's two apps while the others are down.

The servers are in :mod:`benchmarks.serving_servers`. Writes
``benchmarks/results/serving/{results.json,summary.md}``.

    nice -n -5 .venv/bin/python -m benchmarks.serving [--runs 3] [--out DIR] [--work DIR]

A full run takes about 8 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks.serving_servers import (DATA, HTTP_SERVERS, RAY_SERVERS, ROOT, THREADS,
                                        OrtClassifier, RayApps, Subprocesses, prepare,
                                        serve_subprocess)

CONCURRENCY = (1, 8, 32)
BATCHES = (1, 2, 4, 8, 16, 32)
SEQUENTIAL = 300
"""Requests per run at concurrency 1 (after 20 of warm-up)."""
WINDOW_S = 8.0
"""Measured seconds per run at concurrency 8 and 32 (after 1 s of warm-up)."""


# ---- the load generator -------------------------------------------------------------------------
def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


BLOCK = 25
"""Sequential requests per turn when the servers of a phase take turns at concurrency 1."""


def _bodies(texts: list[str]) -> list[bytes]:
    return [json.dumps({"instances": [t]}).encode() for t in texts]


RETRIES: dict[str, int] = {}
"""Requests sent again after the connection failed, per URL (reported in the results)."""
MAX_RETRIES = 20


async def _post(client: Any, url: str, body: bytes) -> float:
    """One request; its latency in ms.

    Raises:
        RuntimeError: The server did not answer 200 with predictions.
    """
    import httpx

    start = time.perf_counter()
    try:
        reply = await client.post(url, content=body, headers={"content-type": "application/json"})
    except httpx.TransportError:  # a keep-alive connection the server dropped: counted, retried
        RETRIES[url] = RETRIES.get(url, 0) + 1
        if RETRIES[url] > MAX_RETRIES:
            raise
        reply = await client.post(url, content=body, headers={"content-type": "application/json"})
    if reply.status_code != 200 or b"predictions" not in reply.content:
        raise RuntimeError(f"{url} answered {reply.status_code}: {reply.content[:200]!r}")
    return (time.perf_counter() - start) * 1000.0


def _summary(latencies: list[float], elapsed: float, own: float, server: dict[str, float]
             ) -> dict[str, Any]:
    done = max(1, len(latencies))
    result: dict[str, Any] = {
        "p50_ms": _percentile(latencies, 50), "p99_ms": _percentile(latencies, 99),
        "rps": len(latencies) / elapsed, "requests": len(latencies),
        "client_cpu_ms_per_request": 1000.0 * own / done}
    if server:
        result["server_cpu_ms_per_request"] = {name: 1000.0 * used / done
                                               for name, used in server.items() if used > 0}
    return result


def _cpu_delta(cpu: Callable[[], dict[str, float]] | None, before: dict[str, float]
               ) -> dict[str, float]:
    return {name: used - before.get(name, 0.0) for name, used in cpu().items()} if cpu else {}


async def _sequential(urls: dict[str, str], texts: list[str], count: int,
                      cpu: Callable[[], dict[str, float]] | None = None) -> dict[str, Any]:
    """Concurrency 1: ``count`` sequential requests per server (after 20 of warm-up), the servers
    taking turns in blocks of :data:`BLOCK` so that every server meets the same machine load; each
    server gets the same tweets in the same order.

    With ``cpu`` (CPU seconds by server process kind), also each process kind's CPU milliseconds
    per request, over the spans of that server's own blocks.
    """
    import httpx

    bodies = _bodies(texts)
    latencies: dict[str, list[float]] = {name: [] for name in urls}
    elapsed = dict.fromkeys(urls, 0.0)
    own = dict.fromkeys(urls, 0.0)
    server: dict[str, dict[str, float]] = {name: {} for name in urls}
    async with contextlib.AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(httpx.AsyncClient(timeout=60))
                   for name in urls}
        for name, url in urls.items():
            for i in range(20):
                await _post(clients[name], url, bodies[-1 - i])
        for first in range(0, count, BLOCK):
            for name, url in urls.items():
                before, cpu_start, started = (cpu() if cpu else {}), time.process_time(), \
                    time.perf_counter()
                for i in range(first, min(count, first + BLOCK)):
                    latencies[name].append(await _post(clients[name], url, bodies[i % len(bodies)]))
                elapsed[name] += time.perf_counter() - started
                own[name] += time.process_time() - cpu_start
                for kind, used in _cpu_delta(cpu, before).items():
                    server[name][kind] = server[name].get(kind, 0.0) + used
    return {name: _summary(latencies[name], elapsed[name], own[name], server[name])
            for name in urls}


async def _window(url: str, texts: list[str], concurrency: int, window_s: float,
                  warmup_s: float = 1.0, cpu: Callable[[], dict[str, float]] | None = None
                  ) -> dict[str, Any]:
    """``concurrency`` callers loading ``url`` back to back; what completes within ``window_s``
    seconds (after ``warmup_s``) counts. ``cpu`` as in :func:`_sequential`."""
    import httpx

    bodies = _bodies(texts)
    latencies: list[float] = []
    state = {"measuring": False, "stop": False}
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        async def caller() -> None:
            while not state["stop"]:
                latency = await _post(client, url, bodies[next(counter) % len(bodies)])
                if state["measuring"] and not state["stop"]:
                    latencies.append(latency)

        tasks = [asyncio.ensure_future(caller()) for _ in range(concurrency)]
        await asyncio.sleep(warmup_s)
        state["measuring"] = True
        before, cpu_start, started = (cpu() if cpu else {}), time.process_time(), time.perf_counter()
        await asyncio.sleep(window_s)
        state["stop"] = True
        elapsed, own = time.perf_counter() - started, time.process_time() - cpu_start
        server = _cpu_delta(cpu, before)
        await asyncio.gather(*tasks)
    return _summary(latencies, elapsed, own, server)


def ray_cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by each kind of Ray process that this process started, directly or
    not (Linux ``/proc``; other Ray clusters on the machine are left out): ``ray::ProxyActor``,
    ``ray::ServeReplica:<app>:<deployment>``, ``ray::ServeController`` ..."""
    ticks = os.sysconf("SC_CLK_TCK")
    processes: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        processes[int(entry.name)] = (int(fields[1]), command,
                                      (int(fields[11]) + int(fields[12])) / ticks)
    used: dict[str, float] = {}
    for pid, (parent, command, seconds) in processes.items():
        if not command.startswith("ray::"):
            continue
        while parent not in (0, 1, os.getpid()) and parent in processes:
            parent = processes[parent][0]
        if parent == os.getpid():
            name = command.split()[0].split(".")[0]
            used[name] = used.get(name, 0.0) + seconds
    return used


def measure_phase(urls: dict[str, str], texts: list[str], window_s: float, sequential: int,
                  cpu: Callable[[], dict[str, float]] | None = None) -> dict[str, dict[str, Any]]:
    """One run against the servers of a phase: concurrency 1 (the servers taking turns), then 8
    and 32 (one server after the other)."""
    result = {name: {"1": level} for name, level in
              asyncio.run(_sequential(urls, texts, sequential, cpu)).items()}
    for concurrency in CONCURRENCY[1:]:
        for name, url in urls.items():
            result[name][str(concurrency)] = asyncio.run(
                _window(url, texts, concurrency, window_s, cpu=cpu))
    return result


def measure_in_process(model: OrtClassifier, texts: list[str], sequential: int) -> dict[str, Any]:
    """One run of the ceiling: per-tweet latency, and items/s at each batch size."""
    latencies = []
    for i in range(sequential + 20):
        start = time.perf_counter()
        model([texts[i % len(texts)]])
        if i >= 20:
            latencies.append((time.perf_counter() - start) * 1000.0)
    batched = {}
    for size in BATCHES:
        rounds = max(4, 128 // size)
        times = []
        for r in range(rounds + 1):
            chunk = [texts[(r * size + j) % len(texts)] for j in range(size)]
            start = time.perf_counter()
            model(chunk)
            if r:
                times.append(time.perf_counter() - start)
        batched[str(size)] = size * len(times) / sum(times)
    return {"p50_ms": _percentile(latencies, 50), "p99_ms": _percentile(latencies, 99),
            "rps": 1000.0 * len(latencies) / sum(latencies), "batched_items_per_s": batched}


# ---- the run ------------------------------------------------------------------------------------
def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Nested run dicts of numbers into the same shape of spreads."""
    if isinstance(runs[0], dict):
        keys = dict.fromkeys(key for run in runs for key in run)
        return {key: _aggregate([run[key] for run in runs if key in run]) for key in keys}
    return _spread([float(run) for run in runs])


def run_benchmark(work: Path, runs: int, window_s: float, sequential: int) -> dict[str, Any]:
    texts = json.loads((work / "texts.json").read_text())
    raw: dict[str, list[dict[str, Any]]] = {name: [] for name in ("in-process-ort", *HTTP_SERVERS,
                                                                  *RAY_SERVERS)}
    model = OrtClassifier(work / "bundle")
    servers = Subprocesses(work)
    try:
        for run in range(runs):
            raw["in-process-ort"].append(measure_in_process(model, texts, sequential))
            for kind, value in measure_phase(servers.urls, texts, window_s, sequential).items():
                raw[kind].append(value)
            print(f"  run {run + 1}/{runs}: " + _line(raw, ("in-process-ort", *HTTP_SERVERS)),
                  flush=True)
    finally:
        servers.close()
    del model
    apps = RayApps(work)
    try:
        for run in range(runs):
            for kind, value in measure_phase(apps.urls, texts, window_s, sequential,
                                             cpu=ray_cpu_seconds).items():
                raw[kind].append(value)
            print(f"  run {run + 1}/{runs}: " + _line(raw, RAY_SERVERS), flush=True)
        batch_sizes = apps.batch_sizes()
    finally:
        apps.close()
    return {**{name: _aggregate(values) for name, values in raw.items()},
            "zhijian_batch_sizes": batch_sizes}


def _line(raw: dict[str, list[dict[str, Any]]], names: tuple[str, ...]) -> str:
    parts = []
    for name in names:
        last = raw[name][-1]
        if name == "in-process-ort":
            best = max(last["batched_items_per_s"].values())
            parts.append(f"{name} p50 {last['p50_ms']:.1f} ms, best batched {best:.0f}/s")
        else:
            parts.append(f"{name} p50 {last['1']['p50_ms']:.1f} ms, "
                         + ", ".join(f"c{c} {last[str(c)]['rps']:.0f}/s" for c in CONCURRENCY))
    return "; ".join(parts)


def _best_batch(result: dict[str, Any]) -> tuple[str, float]:
    batched = result["in-process-ort"]["batched_items_per_s"]
    size = max(batched, key=lambda s: batched[s]["median"])
    return size, batched[size]["median"]


def checks(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with its figures."""
    ours, bare = result["zhijian"], result["bare-ray-serve"]
    size, ceiling = _best_batch(result)
    ours_p50, bare_p50 = ours["1"]["p50_ms"]["median"], bare["1"]["p50_ms"]["median"]
    ours_32 = ours["32"]["rps"]["median"]
    plain_32 = result["fastapi-ort"]["32"]["rps"]["median"]
    naive_32 = result["fastapi-torch-naive"]["32"]["rps"]["median"]
    return [
        {"target": "p50 at concurrency 1 within 1.25x of the bare Ray Serve app's",
         "met": ours_p50 <= 1.25 * bare_p50, "ratio": ours_p50 / bare_p50,
         "figures": f"{ours_p50:.2f} ms against {bare_p50:.2f} ms: {ours_p50 / bare_p50:.2f}x "
                    f"(limit {1.25 * bare_p50:.2f} ms)"},
        {"target": "throughput at concurrency 32 at least 0.8x in-process ONNX Runtime's best "
                   "batched throughput",
         "met": ours_32 >= 0.8 * ceiling, "ratio": ours_32 / ceiling,
         "figures": f"{ours_32:.0f} req/s against {ceiling:.0f} items/s at batch {size}: "
                    f"{ours_32 / ceiling:.2f}x"},
        {"target": "throughput at concurrency 32 above plain FastAPI + ONNX Runtime's",
         "met": ours_32 > plain_32, "ratio": ours_32 / plain_32,
         "figures": f"{ours_32:.0f} req/s against {plain_32:.0f} req/s: {ours_32 / plain_32:.2f}x"},
        {"target": "throughput at concurrency 32 at least 3x the naive FastAPI + PyTorch service's",
         "met": ours_32 >= 3 * naive_32, "ratio": ours_32 / naive_32,
         "figures": f"{ours_32:.0f} req/s against {naive_32:.0f} req/s: {ours_32 / naive_32:.2f}x"},
    ]


def _fmt(spread: dict[str, float], digits: int = 1) -> str:
    return f"{spread['median']:.{digits}f} ({spread['min']:.{digits}f}–{spread['max']:.{digits}f})"


def _loads(values: tuple[float, ...]) -> str:
    return " / ".join(f"{v:.1f}" for v in values)


def render(result: dict[str, Any], meta: dict[str, Any], verdicts: list[dict[str, Any]]) -> str:
    out = ["# Serving: one MiniLM-L6 classifier, five ways, the same 2 cores", "",
           f"{meta['when']}, {meta['machine']}. Model: MiniLM-L6 nearest-class-mean classifier on "
           f"airline tweets (`ncm`, {DATA['train_size']} training tweets), one raw tweet of the test "
           "split per request (`{\"instances\": [tweet]}`), label and scores back. ONNX Runtime: the "
           f"bundle's session as the service creates it, {THREADS} intra-op threads everywhere; "
           f"PyTorch {THREADS} threads. Load generator: {meta['load_generator']}. Concurrency 1: "
           f"{meta['sequential']} sequential requests per server, the servers of a phase taking "
           f"turns in blocks of {BLOCK}; 8 and 32: {meta['window_s']:g} s windows. "
           f"Median over {meta['runs']} runs (min–max). Load average (1, 5, 15 min) at the start "
           f"{_loads(meta['load_average_at_start'])}, at the end {_loads(meta['load_average_at_end'])}"
           f" (other work on the machine). Took {meta['minutes']:.1f} min. Reproduce: "
           f"`{meta['command']}`.", "",
           "| server | p50 c=1 ms | p99 c=1 ms | req/s c=1 | req/s c=8 | req/s c=32 | p50 c=32 ms |"
           " client CPU ms/req (c=32) |", "|---|---|---|---|---|---|---|---|"]
    inproc = result["in-process-ort"]
    out.append(f"| in-process-ort (batch 1, no HTTP) | {_fmt(inproc['p50_ms'], 2)} | "
               f"{_fmt(inproc['p99_ms'], 2)} | {_fmt(inproc['rps'], 0)} | | | | |")
    for name in (*HTTP_SERVERS, *RAY_SERVERS):
        r = result[name]
        out.append(f"| {name} | {_fmt(r['1']['p50_ms'], 2)} | {_fmt(r['1']['p99_ms'], 2)} | "
                   f"{_fmt(r['1']['rps'], 0)} | {_fmt(r['8']['rps'], 0)} | {_fmt(r['32']['rps'], 0)}"
                   f" | {_fmt(r['32']['p50_ms'], 1)} | {_fmt(r['32']['client_cpu_ms_per_request'], 2)} |")
    size, ceiling = _best_batch(result)
    out += ["", "In-process ONNX Runtime, items/s by batch size (preprocessing included): "
            + ", ".join(f"{s}: {_fmt(v, 0)}" for s, v in inproc["batched_items_per_s"].items())
            + f"; best at batch {size}: {ceiling:.0f} items/s.", "",
            "Batches our host ran over the whole benchmark (size: count of `session.run`): "
            + ", ".join(f"{k}: {v}" for k, v in sorted(result["zhijian_batch_sizes"].items(),
                                                         key=lambda item: int(item[0]))) + ".",
            "", "Ratios (medians):", ""]
    ours = result["zhijian"]
    for name in ("bare-ray-serve", *HTTP_SERVERS):
        theirs = result[name]
        latency = ours["1"]["p50_ms"]["median"] / theirs["1"]["p50_ms"]["median"]
        throughput = ours["32"]["rps"]["median"] / theirs["32"]["rps"]["median"]
        out.append(f"- zhijian / {name}: p50 c=1 {latency:.2f}x, req/s c=32 {throughput:.2f}x")
    out += ["", "CPU milliseconds per request of each Ray process (median over runs; the client's "
            "own is in the table above):", "",
            "| process | " + " | ".join(f"{name} c={c}" for name in RAY_SERVERS for c in (1, 32))
            + " |", "|---|" + "---|" * (2 * len(RAY_SERVERS))]
    kinds = sorted({kind for name in RAY_SERVERS for c in ("1", "32")
                    for kind in result[name][c].get("server_cpu_ms_per_request", {})})
    for kind in kinds:
        cells = [result[name][c].get("server_cpu_ms_per_request", {}).get(kind)
                 for name in RAY_SERVERS for c in ("1", "32")]
        out.append(f"| `{kind}` | " + " | ".join("" if cell is None else f"{cell['median']:.2f}"
                                                 for cell in cells) + " |")
    out += ["", "Targets of the issue:", ""]
    out += [f"- {'met' if v['met'] else 'NOT MET'}: {v['target']}: {v['figures']}" for v in verdicts]
    out += ["", *_why(result, verdicts)]
    return "\n".join(out) + "\n"


def _why(result: dict[str, Any], verdicts: list[dict[str, Any]]) -> list[str]:
    """The measured reasons behind the verdicts (docs/serving.md, "Where the time goes", has more)."""
    ours = result["zhijian"]["32"]
    server = {kind: spread["median"] for kind, spread in
              ours.get("server_cpu_ms_per_request", {}).items()
              if kind == "ray::ProxyActor" or kind.startswith("ray::ServeReplica:zhijian:")}
    client = ours["client_cpu_ms_per_request"]["median"]
    total = sum(server.values()) + client
    cores = os.cpu_count() or 1
    lines = ["Why (measured in this run):", ""]
    if not verdicts[0]["met"]:
        lines.append("- p50: our request crosses one replica more than the bare app's (gateway -> "
                     "host over a handle, then the host's batch queue and worker thread); "
                     "docs/serving.md, \"Where the time goes\", measures each part.")
    if total and not all(v["met"] for v in verdicts[1:]):
        parts = ", ".join(f"{kind.removeprefix('ray::')} {value:.1f}" for kind, value in server.items())
        lines.append(f"- throughput: at concurrency 32 each request of ours costs {total:.1f} ms of CPU "
                     f"({parts}, the load generator {client:.1f}), so {cores} cores carry at most "
                     f"{1000 * cores / total:.0f} requests/s; the host's batches "
                     "stay small (histogram above) because requests reach it no faster than the "
                     "proxy and the gateway pass them.")
    if not verdicts[3]["met"]:
        naive = result["fastapi-torch-naive"]["1"]["p50_ms"]["median"]
        ort = result["in-process-ort"]["p50_ms"]["median"]
        lines.append(f"- against the naive service: PyTorch eager answers one tweet in {naive:.1f} ms "
                     f"at p50 (ONNX Runtime in-process: {ort:.1f} ms), so serving it one request at "
                     "a time is not far behind a service bounded by Ray's CPU per request.")
    bare = result["bare-ray-serve"]["32"]["rps"]["median"]
    lines.append(f"- the bare Ray Serve app at concurrency 32 ({bare:.0f} requests/s) keeps Ray's "
                 "default max_ongoing_requests of 5: its replica rejects the rest and the proxy "
                 "retries them with backoff (\"Replica at capacity\" in its log).")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window-s", type=float, default=WINDOW_S)
    parser.add_argument("--sequential", type=int, default=SEQUENTIAL)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serving")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep (and reuse) the bundle here instead of a temporary folder")
    parser.add_argument("--serve", choices=HTTP_SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_subprocess(args.serve, args.work, args.port)
        return
    started, load_at_start = time.perf_counter(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="zhijian-serving-") as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        prepare(work)
        result = run_benchmark(work, args.runs, args.window_s, args.sequential)
    verdicts = checks(result)
    command = " ".join(["nice -n -5" if os.nice(0) < 0 else "", ".venv/bin/python -m benchmarks.serving",
                        *sys.argv[1:]]).strip()
    meta = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
            "runs": args.runs, "window_s": args.window_s, "sequential": args.sequential,
            "threads": THREADS, "command": command, "load_average_at_start": load_at_start,
            "load_average_at_end": os.getloadavg(), "minutes": (time.perf_counter() - started) / 60,
            "connection_retries": dict(RETRIES),
            "load_generator": "one asyncio httpx.AsyncClient in the benchmark process, keep-alive, "
                              "one connection per concurrent caller; its CPU time per request is "
                              "the last column"}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(
        {"meta": meta, "model": {"ptm": "minilm-l6", "method": "ncm", "data": DATA},
         "results": result, "targets": verdicts}, indent=2) + "\n")
    summary = render(result, meta, verdicts)
    (args.out / "summary.md").write_text(summary)
    print(summary)


if __name__ == "__main__":
    main()

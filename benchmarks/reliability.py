"""Reliability benchmark (issue 8): overload and a killed replica on a real model, absolute figures.

The model is the serving benchmark's MiniLM-L6 nearest-class-mean classifier on airline tweets
(exported once, about a minute; ``--work`` keeps it), served by our application on a local Ray
(2 CPUs) and called on ``POST /v1/models/{m}:predict`` with one tweet per request. The load
generator (benchmarks/loadgen.py) runs in this process, on the same cores. Per run:

1. **capacity**: successful answers per second with 16 back-to-back clients over 5 s (one host
   replica, 1 CPU);
2. **overload** (benchmarks/scenarios.py): half the capacity for 5 s, four times it for 5 s, half
   again for 8 s, on one open-loop schedule: failures by status, rejection latency (p50, max),
   median successful latency, the longest request, and the recovery time (median latency back
   within twice the first phase's);
3. **a killed replica**: two host replicas (0.5 CPU each), 0.4 of their measured capacity for
   60 s, one replica process killed with SIGKILL at 30 s: failed requests per kill, their share of
   the minute around the kill, the last failure after the kill, and the seconds until Serve runs
   two replicas again.

Three runs; the median over runs with min-max. Writes
``benchmarks/results/reliability/{results.json,summary.md}``.

    nice -n -5 .venv/bin/python -m benchmarks.reliability [--runs 3] [--work DIR]

A full run takes about 10 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import psutil

from benchmarks import scenarios
from benchmarks.local_ray import QUIET, start_serve, wait_ready
from benchmarks.serving_servers import MODEL, prepare

ROOT = Path(__file__).resolve().parents[1]
APP = "zhijian"
HOST = f"host-{MODEL}"
TWEET = json.dumps({"instances": ["@united the flight was delayed three hours and nobody told us"]
                    }).encode()


class Service:
    """Our application on a local Ray; redeployed per scenario with its own host layout."""

    def __init__(self, work: Path) -> None:
        self.port = start_serve(work, MODEL, 2, "reliability benchmark")
        self.url = f"http://127.0.0.1:{self.port}/v1/models/{MODEL}:predict"

    def deploy(self, **args: Any) -> None:
        from ray import serve

        from services.host.config import HostConfig
        from services.serve.builder import build_app
        from services.serve.config import ServeArgs

        cpus = args.pop("host_num_cpus")
        serve.run(build_app(ServeArgs(models=[MODEL], host=HostConfig(cpus=cpus),
                                      host_num_cpus=cpus, gateway_num_cpus=0.1, **args)),
                  name=APP, route_prefix="/", logging_config=QUIET)
        wait_ready(self.url, body={"instances": ["warm up"]})

    @staticmethod
    def host_pids() -> list[int]:
        marker = f"ServeReplica:{APP}:{HOST}"
        return sorted(p.pid for p in psutil.process_iter(["cmdline"])
                      if marker in " ".join(p.info["cmdline"] or []))

    @staticmethod
    def running() -> int:
        from ray import serve

        return serve.status().applications[APP].deployments[HOST].replica_states.get("RUNNING", 0)

    def kill_one(self) -> None:
        os.kill(self.host_pids()[0], signal.SIGKILL)

    def close(self) -> None:
        import ray
        from ray import serve

        serve.shutdown()
        ray.shutdown()


@contextmanager
def running_service(work: Path | None, prefix: str) -> Iterator[Service]:
    """The bundle fitted in ``work`` (reused if there; a temporary folder when ``None``) and our
    service on a local Ray, shut down on leaving."""
    with tempfile.TemporaryDirectory(prefix=prefix) as temporary:
        folder = work or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        prepare(folder)
        service = Service(folder)
        try:
            yield service
        finally:
            service.close()


SCENARIOS = ("overload", "kill")


def one_run(service: Service, which: tuple[str, ...] = SCENARIOS, gateways: int = 1,
            gateway: dict[str, Any] | None = None) -> dict[str, Any]:
    """One run of the ``which`` scenarios, with ``gateways`` gateway replicas configured with
    ``gateway`` (``GatewayConfig`` fields; the defaults when ``None``)."""
    run: dict[str, Any] = {}
    settings = {"gateway": gateway} if gateway else {}
    if "overload" in which:
        service.deploy(host_num_cpus=1.0, gateway_replicas=gateways, **settings)
        rate = scenarios.capacity(service.url, TWEET, clients=16, seconds=5.0)
        run["capacity_rps"] = rate
        run["overload"] = scenarios.overload(service.url, TWEET, rate, factor=4.0, steady_s=5.0,
                                             overload_s=5.0, after_s=8.0)
    if "kill" in which:
        service.deploy(host_num_cpus=0.5, host_replicas=2, gateway_replicas=gateways, **settings)
        pair = scenarios.capacity(service.url, TWEET, clients=16, seconds=5.0)
        run["two_replica_capacity_rps"] = pair
        run["kill"] = scenarios.replica_kill(service.url, TWEET, 0.4 * pair, service.kill_one,
                                             service.running, expected=2, seconds=60.0,
                                             kill_after_s=30.0)
    return run


FIGURES = {
    "capacity (answers/s, 1 replica, 1 CPU)": lambda r: r["capacity_rps"],
    "steady at 0.5x: failed requests": lambda r: r["overload"]["steady"]["requests"]
    - r["overload"]["steady"]["ok"],
    "overload at 4x: answered 2xx": lambda r: r["overload"]["overload"]["ok"],
    "overload at 4x: refused 429/503": lambda r: r["overload"]["overload"]["rejected"],
    "overload at 4x: other failures": lambda r: r["overload"]["overload"]["other_failures"],
    "overload at 4x: refusals without Retry-After": lambda r: r["overload"]["overload"][
        "rejected_without_retry_after"],
    "overload at 4x: rejection latency p50 (ms)": lambda r: 1000 * r["overload"]["overload"][
        "rejection_p50_s"],
    "overload at 4x: rejection latency p99 (ms)": lambda r: 1000 * r["overload"]["overload"][
        "rejection_p99_s"],
    "overload at 4x: rejection latency max (ms)": lambda r: 1000 * r["overload"]["overload"][
        "rejection_max_s"],
    "overload at 4x: successful latency p50 (ms)": lambda r: 1000 * r["overload"]["overload"][
        "ok_p50_s"],
    "overload at 4x: longest request (s)": lambda r: r["overload"]["overload"]["max_latency_s"],
    "after overload: recovery of the median latency (s)": lambda r: r["overload"]["recovery_s"],
    "capacity (answers/s, 2 replicas, 0.5 CPU each)": lambda r: r["two_replica_capacity_rps"],
    "kill: failed requests per kill": lambda r: r["kill"]["failed"],
    "kill: failed share of the minute around the kill (%)": lambda r: 100 * r["kill"][
        "failed_share_around_kill"],
    "kill: last failure after the kill (s)": lambda r: r["kill"]["last_failure_after_kill_s"],
    "kill: back to 2 running replicas after (s)": lambda r: r["kill"]["recovery_s"],
}


def aggregate(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    table = {}
    for name, read in FIGURES.items():
        try:
            values = [float(read(run)) for run in runs]
        except KeyError:  # a scenario left out with --scenarios
            continue
        table[name] = {"median": statistics.median(values), "min": min(values),
                       "max": max(values)}
    return table


TARGETS = (
    ("rejections answered within 50 ms (p99)", "overload at 4x: rejection latency p99 (ms)", 50.0),
    ("a killed replica recovered within 30 s", "kill: back to 2 running replicas after (s)", 30.0),
    ("under 1% failed requests in the minute around a kill",
     "kill: failed share of the minute around the kill (%)", 1.0),
)


def render(table: dict[str, dict[str, float]], meta: dict[str, Any]) -> str:
    lines = [f"# Reliability benchmark ({meta['when']})", "",
             f"{meta['machine']}; {meta['runs']} runs, median (min-max); "
             f"`{meta['command']}`; {meta['minutes']:.1f} min.", "",
             "| figure | median | min | max |", "|---|---|---|---|"]
    for name, spread in table.items():
        lines.append(f"| {name} | {spread['median']:.3g} | {spread['min']:.3g} | "
                     f"{spread['max']:.3g} |")
    lines += ["", "| target (issue 8) | measured median | met |", "|---|---|---|"]
    for label, figure, bound in TARGETS:
        if figure not in table:
            continue
        value = table[figure]["median"]
        lines.append(f"| {label} | {value:.3g} | {'yes' if value <= bound else 'NO'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "reliability")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep (and reuse) the bundle here instead of a temporary folder")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help="comma-separated subset of: " + ", ".join(SCENARIOS))
    parser.add_argument("--gateway-replicas", type=int, default=1)
    parser.add_argument("--max-in-flight", type=int, default=None,
                        help="the gateway's max_in_flight per model (default: GatewayConfig's)")
    args = parser.parse_args()
    gateway = {"max_in_flight": args.max_in_flight} if args.max_in_flight else None
    which = tuple(args.scenarios.split(","))
    if not set(which) <= set(SCENARIOS):
        parser.error(f"--scenarios: choose among {', '.join(SCENARIOS)}")
    started = time.perf_counter()
    runs = []
    with running_service(args.work, "zhijian-reliability-") as service:
        for index in range(args.runs):
            runs.append(one_run(service, which, args.gateway_replicas, gateway))
            print(f"run {index + 1}/{args.runs} done", flush=True)
    command = " ".join(["nice -n -5" if os.nice(0) < 0 else "",
                        ".venv/bin/python -m benchmarks.reliability", *sys.argv[1:]]).strip()
    meta = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
            "runs": args.runs, "command": command, "minutes": (time.perf_counter() - started) / 60,
            "load_generator": "benchmarks/loadgen.py: aiohttp in the benchmark process, same cores"}
    table = aggregate(runs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(
        {"meta": meta, "figures": table, "runs": runs}, indent=2, default=str) + "\n")
    summary = render(table, meta)
    (args.out / "summary.md").write_text(summary)
    print(summary)


if __name__ == "__main__":
    main()

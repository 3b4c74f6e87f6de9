"""Benchmark of bundle optimizations: PyTorch against ONNX Runtime fp32, optimized and int8.

For the MiniLM-L6 classifier (airline tweets, sequences of 128 tokens) and the EfficientNet-Lite0
classifier (Fashion-MNIST at 224 px), each a linear probe trained here on 2,000 examples:

1. exports the fp32 bundle, then the bundle the export rule gives with ``--optimize graph,int8``
   (what ``zhijian export`` keeps and refuses, with its reasons), then forced graph and forced
   graph+int8 bundles so that every variant can be timed; each bundle evaluates itself on the same
   raw test split, so the quality of every variant is the bundle's own evaluation;
2. times PyTorch eager fp32, PyTorch bf16 autocast, and ONNX Runtime fp32, optimized and int8 at
   batch 1 and 32, in interleaved rounds (every variant once per round, same thread count), taking
   the median per run, over 3 runs (median and min-max spread reported);
3. counts each model's FLOPs (``torch.utils.flop_counter``) and prints the achieved GFLOP/s against
   this machine's fp32 peak measured in the same run (the best 2048² matmul of numpy's BLAS and
   of ONNX Runtime's MLAS).

Writes ``benchmarks/results/export-speed/{results.json,summary.md}``.

    .venv/bin/python -m benchmarks.export_speed [--runs 3] [--model minilm-l6] [--out DIR]
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
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS: dict[str, dict[str, Any]] = {
    "minilm-l6": {"ptm": "minilm-l6", "preprocess": {"max_length": 128},
                  "data": {"dataset": "airline-tweets", "train_size": 2000, "val_size": 300,
                           "test_size": 2000}},
    "efficientnet-lite0": {"ptm": "efficientnet-lite0", "preprocess": {"image_size": 224},
                           "data": {"dataset": "fashion-mnist", "train_size": 2000,
                                    "val_size": 300, "test_size": 2000}},
}
ROUNDS = {1: 40, 32: 8}
VARIANTS = ("pytorch-eager-fp32", "pytorch-bf16-autocast", "ort-fp32", "ort-optimized", "ort-int8")


def _train_probe(name: str, spec: dict[str, Any]) -> tuple[Any, str]:
    from zhijian_core.experiment.config import parse_experiment
    from zhijian_core.experiment.runner import run_experiment
    from zhijian_core.experiment.session import Session, resolve_device
    from zhijian_core.runs.store import RunStore

    config = parse_experiment({"name": f"export-speed-{name}", "ptm": spec["ptm"],
                               "data": spec["data"], "preprocess": spec["preprocess"],
                               "methods": [{"method": "linear_probe"}], "seeds": [0],
                               "baseline": False, "device": "cpu"}, "the export-speed benchmark")
    store = RunStore(f"export-speed-{name}")
    (result,) = run_experiment(config, Session(config, store, resolve_device("cpu")))
    return store, result.run_id


def _bundles(name: str, out: Path) -> tuple[Any, dict[str, Path], dict[str, Any]]:
    """Train, export the four bundles; return the source, bundle folders and the export's rule."""
    from zhijian_core.export import from_run, write_model_bundle
    from zhijian_core.export.optimize import OptimizeConfig

    store, run_id = _train_probe(name, MODELS[name])
    source = from_run(run_id, store)
    folders = {key: out / name / key for key in ("fp32", "rule", "graph", "int8")}
    configs = {"fp32": None,
               "rule": OptimizeConfig(optimizations=("graph", "int8")),
               "graph": OptimizeConfig(optimizations=("graph",), force=True),
               "int8": OptimizeConfig(optimizations=("graph", "int8"), force=True)}
    manifests = {}
    for key, folder in folders.items():
        started = time.perf_counter()
        manifests[key] = write_model_bundle(source, f"bench-{name}", folder,
                                            optimize_config=configs[key])
        print(f"  exported {key} bundle in {time.perf_counter() - started:.0f} s", flush=True)
    return source, folders, manifests


def _batches(source: Any, folder: Path, seq: int | None) -> dict[int, dict[str, np.ndarray]]:
    """Real preprocessed batches of 1 and 32 test inputs (text padded to ``seq`` tokens)."""
    from zhijian_core.preprocess import build_preprocessor

    raw = list(source.evaluation.test.inputs[:32])
    batch = build_preprocessor(source.preprocess, folder)(raw)
    if seq is not None:
        pad = {"input_ids": source.preprocess.pad_token_id, "attention_mask": 0, "token_type_ids": 0}
        batch = {k: np.concatenate([a, np.full((a.shape[0], seq - a.shape[1]), pad[k], a.dtype)],
                                   axis=1) for k, a in batch.items()}
    return {1: {k: a[:1] for k, a in batch.items()}, 32: batch}


def _runners(source: Any, folders: dict[str, Path], batch: dict[str, np.ndarray],
             threads: int) -> dict[str, Callable[[], Any]]:
    import torch

    from zhijian_core.export.runtime import cpu_session

    module = source.module.eval()
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in batch.items()}

    def eager() -> Any:
        with torch.inference_mode():
            return module(tensors)

    def bf16() -> Any:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return module(tensors)

    def ort(key: str) -> Callable[[], Any]:
        session = cpu_session(folders[key] / "model.onnx", spinning=True, threads=threads)
        feeds = {i.name: np.ascontiguousarray(batch[i.name]) for i in session.get_inputs()}
        return lambda: session.run(None, feeds)

    return {"pytorch-eager-fp32": eager, "pytorch-bf16-autocast": bf16, "ort-fp32": ort("fp32"),
            "ort-optimized": ort("graph"), "ort-int8": ort("int8")}


def _interleaved(runners: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Median milliseconds per call of each runner over ``rounds`` interleaved rounds."""
    times: dict[str, list[float]] = {key: [] for key in runners}
    for i in range(rounds + 2):
        for key, call in runners.items():
            start = time.perf_counter()
            call()
            if i >= 2:
                times[key].append((time.perf_counter() - start) * 1000.0)
    return {key: statistics.median(values) for key, values in times.items()}


def _flops(source: Any, batch: dict[str, np.ndarray]) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in batch.items()}
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        source.module(tensors)
    return float(counter.get_total_flops())


def _best_seconds(call: Callable[[], Any], repeats: int = 8) -> float:
    call()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def _peak_gflops(threads: int) -> float:
    """This machine's reachable fp32 peak: the best 2048² matmul of numpy's BLAS and of ONNX
    Runtime's MLAS (one MatMul graph, same thread count), in GFLOP/s."""
    from onnx import TensorProto, helper

    from zhijian_core.export.runtime import cpu_session

    n = 2048
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "matmul",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [n, n]) for x in "ab"],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = cpu_session(model.SerializeToString(), spinning=True, threads=threads)
    best = min(_best_seconds(lambda: a @ a), _best_seconds(lambda: session.run(None, {"a": a, "b": a})))
    return 2 * n ** 3 / best / 1e9


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench_model(name: str, out: Path, runs: int, threads: int) -> dict[str, Any]:
    print(f"{name}: training the linear probe and exporting the bundles", flush=True)
    source, folders, manifests = _bundles(name, out)
    seq = 128 if source.preprocess.kind == "text" else None
    batches = _batches(source, folders["fp32"], seq)
    flops = {size: _flops(source, batch) for size, batch in batches.items()}
    timings: dict[int, dict[str, list[float]]] = {1: {v: [] for v in VARIANTS},
                                                  32: {v: [] for v in VARIANTS}}
    peaks = []
    for run in range(runs):
        peaks.append(_peak_gflops(threads))
        for size, batch in batches.items():
            medians = _interleaved(_runners(source, folders, batch, threads), ROUNDS[size])
            for key, value in medians.items():
                timings[size][key].append(value)
        print(f"  run {run + 1}/{runs}: " + ", ".join(
            f"b{size} {key} {timings[size][key][-1]:.1f} ms" for size in batches for key in VARIANTS),
            flush=True)
    quality = {key: manifests[key].evidence.evaluation.macro_f1 for key in ("fp32", "graph", "int8")}
    return {
        "model": name, "ptm": MODELS[name]["ptm"], "data": MODELS[name]["data"],
        "input": "sequence of 128 tokens (real tweets, padded)" if seq else "224x224 RGB image",
        "flops": {str(k): v for k, v in flops.items()},
        "peak_gflops": _spread(peaks),
        "ms": {str(size): {key: _spread(values) for key, values in per.items()}
               for size, per in timings.items()},
        "macro_f1": {"ort-fp32": quality["fp32"], "ort-optimized": quality["graph"],
                     "ort-int8": quality["int8"]},
        "export_rule": [r.model_dump() for r in manifests["rule"].evidence.optimizations],
        "forced_int8": [r.model_dump() for r in manifests["int8"].evidence.optimizations],
    }


def _ratio(result: dict, size: int, slow: str, fast: str) -> float:
    ms = result["ms"][str(size)]
    return ms[slow]["median"] / ms[fast]["median"]


def _checks(result: dict) -> list[str]:
    name, lines = result["model"], []

    def check(ok: bool, text: str) -> None:
        lines.append(f"- [{'x' if ok else ' '}] {text}")

    ratio = _ratio(result, 1, "pytorch-eager-fp32", "ort-fp32")
    check(ratio >= 1.6, f"ONNX Runtime fp32 is {ratio:.2f}x PyTorch eager fp32 at batch 1 (target 1.6x)")
    int8_rule = next(r for r in result["export_rule"] if r["kind"].startswith("int8"))
    if name == "minilm-l6":
        ratio = _ratio(result, 32, "pytorch-eager-fp32", "ort-int8")
        check(ratio >= 3, f"int8 is {ratio:.2f}x PyTorch eager fp32 at batch 32 (target 3x)")
        ratio = _ratio(result, 32, "pytorch-bf16-autocast", "ort-int8")
        check(ratio > 1, f"int8 is {ratio:.2f}x bf16 autocast at batch 32 (target: faster)")
        loss = 100 * (result["macro_f1"]["ort-fp32"] - result["macro_f1"]["ort-int8"])
        check(loss <= 1, f"int8 loses {loss:.2f} points of macro-F1 on the bundle's own test "
                         "evaluation (target at most 1)")
    else:
        ratio = _ratio(result, 32, "ort-fp32", "ort-int8")
        if ratio > 1:
            check(True, f"static int8 is {ratio:.2f}x ONNX Runtime fp32 at batch 32")
        else:
            check(not int8_rule["applied"],
                  f"int8 not beneficial: static int8 is {ratio:.2f}x ONNX Runtime fp32 at batch "
                  f"32, and the export refuses it for this model "
                  f"({'refused' if not int8_rule['applied'] else 'KEPT'}: {int8_rule['reason']})")
    return lines


def render(results: list[dict], meta: dict) -> str:
    out = ["# Bundle optimizations: PyTorch against ONNX Runtime", "",
           f"{meta['when']}, {meta['machine']}, {meta['threads']} threads for PyTorch and ONNX "
           f"Runtime alike; medians of interleaved rounds ({ROUNDS[1]} at batch 1, {ROUNDS[32]} at "
           f"batch 32) per run, then the median over {meta['runs']} runs, with min-max. "
           "Reproduce: `.venv/bin/python -m benchmarks.export_speed`.", ""]
    for result in results:
        peak = result["peak_gflops"]["median"]
        out += [f"## {result['model']} ({result['input']})", "",
                f"fp32 peak measured in this run (best 2048² matmul of numpy and ONNX Runtime): "
                f"{peak:.0f} GFLOP/s. Linear-probe "
                f"classifier trained on {result['data']['train_size']} examples; macro-F1 from "
                f"each bundle's own evaluation on {result['data']['test_size']} test examples.", "",
                "| variant | batch 1 ms | batch 32 ms | speedup vs eager (b1 / b32) | GFLOP/s b32 "
                "(% of peak) | macro-F1 |", "|---|---|---|---|---|---|"]
        for key in VARIANTS:
            b1, b32 = result["ms"]["1"][key], result["ms"]["32"][key]
            gflops = result["flops"]["32"] / (b32["median"] / 1000) / 1e9
            f1 = result["macro_f1"].get(key)
            out.append(
                f"| {key} | {b1['median']:.2f} ({b1['min']:.2f}–{b1['max']:.2f}) | "
                f"{b32['median']:.1f} ({b32['min']:.1f}–{b32['max']:.1f}) | "
                f"{_ratio(result, 1, 'pytorch-eager-fp32', key):.2f} / "
                f"{_ratio(result, 32, 'pytorch-eager-fp32', key):.2f} | "
                f"{gflops:.0f} ({100 * gflops / peak:.0f}%) | "
                f"{'' if f1 is None else f'{f1:.4f}'} |")
        out += ["", f"FLOPs per batch: {result['flops']['1'] / 1e9:.2f} G at batch 1, "
                f"{result['flops']['32'] / 1e9:.1f} G at batch 32.", "",
                "What `zhijian export --optimize graph,int8` keeps for this model:", ""]
        out += [f"- {r['kind']}: {'kept' if r['applied'] else 'refused'} ({r['reason']})"
                for r in result["export_rule"]]
        out += ["", "Targets:", "", *_checks(result), ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", choices=sorted(MODELS), action="append")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "export-speed")
    args = parser.parse_args()
    import torch

    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zhijian-export-speed-") as work:
        results = [bench_model(name, Path(work), args.runs, threads)
                   for name in (args.model or MODELS)]
    meta = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
            "threads": threads, "runs": args.runs, "torch": torch.__version__}
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    summary = render(results, meta)
    (args.out / "summary.md").write_text(summary + "\n")
    print(summary)


if __name__ == "__main__":
    main()

"""The main job (``make demo``): from a pre-trained model to a served, promoted endpoint.

1. compare linear probing, LoRA and full fine-tuning of MiniLM-L6 on airline-tweet sentiment against
   the TF-IDF baseline (``recipes/demo-tweets.yaml``; runs stored in the embedded MLflow store);
2. export the run with the best *validation* macro-F1 to a verified ONNX bundle, trying graph fusion
   and int8 (each kept only if measured faster and within 1 point of macro-F1);
3. register it and promote it to ``production`` through the gates (audited);
4. serve it with ``zhijian serve`` (local Ray, generated admin token), send the example requests
   it prints, and keep serving until Ctrl-C when run from a terminal (``DEMO_KEEP_SERVING=0`` stops
   at once; non-interactive runs stop after the examples).

Every step is the real command line, printed before it runs.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZHIJIAN = [str(ROOT / ".venv" / "bin" / "zhijian")]
MODEL = "tweets-sentiment"
OUT = ROOT / "out" / "demo-tweets"
PORT = int(os.environ.get("DEMO_PORT", "8000"))


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def run(*args: str) -> str:
    print("$ zhijian " + " ".join(shlex.quote(a) for a in args), flush=True)
    done = subprocess.run([*ZHIJIAN, *args], text=True, stdout=subprocess.PIPE)
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        sys.exit(done.returncode)
    return done.stdout


def best_run() -> dict:
    board = json.loads((OUT / "leaderboard.json").read_text())
    runs = [r for r in board["runs"] if r.get("run_id") and r["family"] != "baseline"]
    return max(runs, key=lambda r: r["val_quality"]["macro_f1"])


def serve_and_show() -> None:
    server = subprocess.Popen([*ZHIJIAN, "serve", "--local-dev", "--port", str(PORT)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(f"$ zhijian serve --local-dev --port {PORT}", flush=True)
    lines = []
    try:
        while not lines or "press Ctrl-C" not in lines[-1]:
            line = server.stdout.readline()
            if not line:
                sys.exit("zhijian serve stopped early:\n" + "".join(lines))
            lines.append(line)
            print(line, end="", flush=True)
        url = f"http://127.0.0.1:{PORT}"
        step("example requests")
        examples = ["The crew was wonderful and we landed early!",
                    "Two hours on the tarmac and no information at all."]
        curl = (f"curl -s -X POST {url}/v1/models/{MODEL}:predict -H 'Content-Type: "
                f"application/json' -d '{json.dumps({'instances': examples})}'")
        print("$ " + curl, flush=True)
        request = urllib.request.Request(f"{url}/v1/models/{MODEL}:predict", method="POST",
                                         data=json.dumps({"instances": examples}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            print(json.dumps(json.loads(answer.read()), indent=1), flush=True)
        print(f"""
With the real Triton client (pip install 'tritonclient[http]'):

    import numpy as np, tritonclient.http as httpclient
    client = httpclient.InferenceServerClient("127.0.0.1:{PORT}")
    text = httpclient.InferInput("text", [1], "BYTES")
    text.set_data_from_numpy(np.array(["Lost my bag again"], dtype=object))
    print(client.infer("{MODEL}", [text]).as_numpy("probabilities"))

Admin API: curl -H "Authorization: Bearer $(cat .zhijian/admin-token)" {url}/admin/models
OpenAPI: {url}/docs
Dashboard (live latency, throughput, errors, cost, traffic split): {url}/dashboard""", flush=True)
        keep = os.environ.get("DEMO_KEEP_SERVING", "1") != "0" and sys.stdin.isatty()
        if keep:
            print("\nserving until Ctrl-C", flush=True)
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
        rest, _ = server.communicate(timeout=120)
        print(rest, end="", flush=True)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    step("1. compare reuse methods (MiniLM-L6, airline tweets)")
    run("compare", "--recipe", "recipes/demo-tweets.yaml", "--out", str(OUT), *sys.argv[1:])
    winner = best_run()
    step(f"2. export the best run by validation macro-F1: {winner.get('label') or winner['method']} "
         f"(val {winner['val_quality']['macro_f1']:.3f})")
    bundle = OUT / f"bundle-{winner['run_id'][:12]}-{int(time.time())}"
    run("export", "--run", winner["run_id"], "--name", MODEL, "--out", str(bundle),
        "--optimize", "graph,int8")
    step("3. register and promote to production")
    registered = run("registry", "register", str(bundle), "--name", MODEL)
    version = registered.strip().rsplit(" ", 1)[-1]
    run("promote", MODEL, version, "--to", "production", "--reason", "make demo")
    step("4. serve it")
    serve_and_show()


if __name__ == "__main__":
    main()

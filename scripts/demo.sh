#!/usr/bin/env bash
# The main job (make demo): compare linear probing, LoRA and full fine-tuning of MiniLM-L6 on
# airline-tweet sentiment against the TF-IDF baseline, store the runs in the embedded MLflow store
# (.zhijian/) and print the leaderboard. Serving joins this demo when the serving issues land.
set -euo pipefail
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/zhijian compare --recipe recipes/demo-tweets.yaml --out out/demo-tweets "$@"

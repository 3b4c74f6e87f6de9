#!/usr/bin/env bash
# Provision the system packages the tests use. As root, missing packages are installed with apt;
# otherwise they are reported. With CI set, a missing tool or dataset fails the run (the tests then
# cannot skip what CI is meant to check).
set -euo pipefail

# package -> file that proves it is installed
declare -A NEEDS=(
  [dataset-fashion-mnist]=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
  [prometheus]=/usr/bin/promtool
  [chromium]=/usr/bin/chromium
)

missing=()
for pkg in "${!NEEDS[@]}"; do
  [[ -e "${NEEDS[$pkg]}" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "provision: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi

echo "provision: missing system packages: ${missing[*]} (install them with apt-get as root)" >&2
if [[ -n "${CI:-}" ]]; then
  echo "provision: CI is set, so a missing package fails the run" >&2
  exit 1
fi

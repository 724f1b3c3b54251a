#!/bin/bash
# One-shot vs geometric vs hybrid for Wanda and SparseGPT on gpt-tiny (embedded King James
# corpus), unstructured 50% and 2:4, at an equal fine-tuning budget of 10 periods per run
# (the built-in gpt-tiny grid otherwise: periods of 50 batches of 16 windows, layer-wise,
# seeds 0-2). The four comparisons share one results store, so the dense models are trained
# once. Usage:
#   scripts/gpt-tiny-criteria.sh SHEARS_BINARY OUT_DIR [JOBS]
set -euo pipefail
bin=$1 out=$2 jobs=${3:-2}
mkdir -p "$out/store"
for p in "" 2:4; do
  for c in wanda sparsegpt; do
    name=kjv-mini-gpt-tiny-$c${p:+-${p/:/of}}-budget10
    mkdir -p "$out/$name"
    [ -e "$out/$name/runs" ] || ln -s ../store "$out/$name/runs"
    if [ -n "$p" ]; then sel=(--pattern "$p"); else sel=(--targets 0.5); fi
    echo "== $name"
    /usr/bin/time -f "$name wall %e s maxrss %M KB" \
      "$bin" compare --model gpt-tiny --criterion "$c" "${sel[@]}" --budget 10 \
      --jobs "$jobs" --out "$out/$name"
  done
done

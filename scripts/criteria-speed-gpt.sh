#!/bin/bash
# Time of one pruning step of gpt-tiny (default shape: 4 blocks, width 128, context 128) with
# magnitude, Wanda and SparseGPT — layer-wise to 50%, every attention and MLP Linear layer,
# 128 calibration sequences of 128 tokens for the calibrated ones — as wall time of the
# whole `prune-once` (loading the checkpoint and, for the calibrated ones, the corpus). The
# model is trained for one epoch first (the timing does not depend on how well it is trained).
# Prints "criterion seconds test_ppl" per run. Usage:
#   scripts/criteria-speed-gpt.sh SHEARS_BINARY OUT_DIR [REPEATS]
set -euo pipefail
bin=$1 out=$2 reps=${3:-5}
mkdir -p "$out"
ck=$out/gpt-tiny.ckpt
[ -f "$ck" ] || "$bin" train --model gpt-tiny --data kjv-mini --epochs 1 --out "$ck" --json >/dev/null
ppl() { "$bin" eval --checkpoint "$1" --json |
  python3 -c "import json,sys; print(round(json.load(sys.stdin)['test_ppl'], 3))"; }
for i in $(seq "$reps"); do
  for c in magnitude wanda sparsegpt; do
    p=$out/$c.ckpt
    t0=$(date +%s.%N)
    "$bin" prune-once --checkpoint "$ck" --criterion "$c" --scope layer-wise --sparsity 0.5 \
      --weights-only --out "$p" --json >/dev/null
    t1=$(date +%s.%N)
    echo "$c $(echo "$t1 - $t0" | bc) $(ppl "$p")"
  done
done
echo "dense - $(ppl "$ck")"

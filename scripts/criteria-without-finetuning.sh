#!/bin/bash
# Prune-once (no fine-tuning) of stored dense models with magnitude, Wanda and SparseGPT,
# layer-wise at 50/80/90% and 2:4, weights only; prints "dense sparsity pattern criterion
# test_top1 seconds" per run and the dense accuracy. Usage:
#   scripts/criteria-without-finetuning.sh SHEARS_BINARY STORE DATA_DIR DENSE_ID...
# (STORE: a compare store, e.g. results/compare/runs; DENSE_ID: directories under STORE/dense).
set -euo pipefail
bin=$1 store=$2 data=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
acc() { "$bin" eval --checkpoint "$1" --data-dir "$data" --json |
  python3 -c "import json,sys; print(json.load(sys.stdin)['test_top1'])"; }
for d in "$@"; do
  ck=$store/dense/$d/model.ckpt
  for spec in "0.5 -" "0.8 -" "0.9 -" "0.5 2:4"; do
    read -r s p <<<"$spec"
    for c in magnitude wanda sparsegpt; do
      extra=()
      [ "$p" != "-" ] && extra=(--pattern "$p")
      out=$tmp/$c.ckpt
      t0=$(date +%s.%N)
      "$bin" prune-once --checkpoint "$ck" --criterion "$c" --scope layer-wise --sparsity "$s" \
        "${extra[@]}" --weights-only --data-dir "$data" --out "$out" --json >/dev/null
      t1=$(date +%s.%N)
      echo "$d $s $p $c $(acc "$out") $(echo "$t1 - $t0" | bc)"
    done
  done
  echo "$d dense - - $(acc "$ck")"
done

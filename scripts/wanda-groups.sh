#!/bin/bash
# Wanda's comparison group measured without fine-tuning: per output row (its default), per
# layer and one global threshold (`--wanda-rows false` with --scope layer-wise / global), with
# global and layer-wise magnitude beside them, on dense LeNet-300-100 models trained on the
# full Fashion-MNIST (20 epochs, seeds given). Prints "seed sparsity variant test_top1" per
# run and "seed dense - test_top1". Usage:
#   scripts/wanda-groups.sh SHEARS_BINARY DATA_DIR OUT_DIR SEED...
set -euo pipefail
bin=$1 data=$2 out=$3
shift 3
mkdir -p "$out"
acc() { "$bin" eval --checkpoint "$1" --data-dir "$data" --json |
  python3 -c "import json,sys; print(json.load(sys.stdin)['test_top1'])"; }
for seed in "$@"; do
  ck=$out/dense-$seed.ckpt
  [ -f "$ck" ] || "$bin" train --model lenet300 --data fashion-mnist --data-dir "$data" \
    --epochs 20 --seed "$seed" --out "$ck" --json >/dev/null
  for s in 0.5 0.8 0.9; do
    for v in "wanda-row wanda layer-wise true" "wanda-layer wanda layer-wise false" \
             "wanda-global wanda global false" "magnitude-layer magnitude layer-wise true" \
             "magnitude-global magnitude global true"; do
      read -r name c scope rows <<<"$v"
      p=$out/pruned.ckpt
      "$bin" prune-once --checkpoint "$ck" --criterion "$c" --scope "$scope" --wanda-rows "$rows" \
        --sparsity "$s" --weights-only --data-dir "$data" --out "$p" --json >/dev/null
      echo "$seed $s $name $(acc "$p")"
    done
  done
  echo "$seed dense - $(acc "$ck")"
done

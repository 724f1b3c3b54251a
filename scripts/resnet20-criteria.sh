#!/bin/bash
# One-shot vs geometric vs hybrid for Wanda and SparseGPT on ResNet-20 (embedded
# Fashion-MNIST subset), unstructured 50% and 2:4, at an equal fine-tuning budget, with a grid
# sized for 2 CPU cores: dense 6 epochs; fine-tuning in periods of 20 batches of 128 images,
# 8 periods per run however split over its steps; layer-wise; seeds 0-2. The four comparisons
# share one results store (the dense models are trained once). Under 2:4 the stem convolution
# (9 inputs per row on one-channel images: no groups of 4) is left dense. Usage:
#   scripts/resnet20-criteria.sh SHEARS_BINARY OUT_DIR [JOBS] [PATTERNS]
# PATTERNS (default "unstructured 2:4") picks which of the two halves to run.
set -euo pipefail
bin=$1 out=$2 jobs=${3:-2} patterns=${4:-unstructured 2:4}
mkdir -p "$out/store"
for p in $patterns; do
  [ "$p" = unstructured ] && p=
  for c in wanda sparsegpt; do
    name=fashion-mnist-mini-resnet20-$c${p:+-${p/:/of}}-budget8
    mkdir -p "$out/$name"
    [ -e "$out/$name/runs" ] || ln -s ../store "$out/$name/runs"
    cat >"$out/$name.toml" <<TOML
targets = [0.5]
seeds = [0, 1, 2]

[base.model]
kind = "resnet20"
[base.data]
dataset = "fashion-mnist-mini"
[base.dense]
epochs = 6
[base.prune]
criterion = "$c"
scope = "layer-wise"
${p:+pattern = \"$p\"}
${p:+exclude = [\"stem.conv\"]}
[base.finetune]
mode = "budget"
budget = 8
batches_per_epoch = 20
lr = 0.01

[regimes]
one-shot = ["schedule.kind=one-shot", "finetune.patience=[5]"]
geometric = ["schedule.kind=geometric", "schedule.steps=5", "finetune.patience=[1]"]
hybrid = ["schedule.kind=hybrid", "schedule.start={target*0.7}", "schedule.steps=3", "finetune.patience=[5,1]"]
TOML
    echo "== $name"
    /usr/bin/time -f "$name wall %e s maxrss %M KB" \
      "$bin" compare --config "$out/$name.toml" --jobs "$jobs" --out "$out/$name"
  done
done

#!/bin/bash
# The GPU path, checked: builds shears with a GPU feature, runs the same short comparison on
# the CPU and on the GPU (same seeds), prints how far the GPU's result rows are from the CPU's
# (rounding only is expected: the kernels differ, the arithmetic does not), then the training
# and inference throughput of `shears bench` on both devices. docs/gpu.md says what the
# figures mean and where they are recorded.
#
#   scripts/gpu-check.sh [cuda|wgpu] [OUT_DIR]
#
# The `cuda` build needs the LLVM bundle of tracel-llvm-bundler (downloaded by its build script
# on first build, or copied into place beforehand on an offline machine: docs/gpu.md).
set -euo pipefail
feature=${1:-cuda}
out=${2:-/tmp/shears-gpu-check}
cd "$(dirname "$0")/.."
rm -rf "$out" && mkdir -p "$out"

echo "== build (--features shears-cli/$feature)"
/usr/bin/time -f "build %e s" cargo build --release --locked -p shears-cli --features "shears-cli/$feature"
bin=target/release/shears

# A comparison small enough for a minute on the CPU: LeNet-300-100 on the embedded subset,
# targets 50% and 90%, one-shot and geometric, one seed.
grid=(compare --model lenet300 --targets 0.5 0.9 --regimes one-shot geometric --seeds 0)
for dev in cpu "$feature"; do
  echo "== comparison on $dev"
  /usr/bin/time -f "$dev comparison wall %e s" \
    "$bin" "${grid[@]}" --device "$dev" --out "$out/compare-$dev" > "$out/compare-$dev.txt"
done

echo "== agreement of the result rows (GPU against CPU, same seeds)"
python3 - "$out/compare-cpu/runs" "$out/compare-$feature/runs" <<'PY'
import json, pathlib, sys
def rows(store):
    out = {}
    for p in pathlib.Path(store).rglob("steps.jsonl"):
        for line in p.read_text().splitlines():
            r = json.loads(line)
            out[(r["regime"], r["target"], r["seed"], r["step"])] = r
    return out
cpu, gpu = rows(sys.argv[1]), rows(sys.argv[2])
if set(cpu) != set(gpu):
    sys.exit(f"different runs: {sorted(set(cpu) ^ set(gpu))}")
worst = {}
for k in cpu:
    for f in ("test_top1", "test_loss", "val_top1", "sparsity"):
        if f in cpu[k] and f in gpu[k]:
            d = abs(cpu[k][f] - gpu[k][f])
            worst[f] = max(worst.get(f, 0.0), d)
for f, d in sorted(worst.items()):
    print(f"  {f}: largest |GPU - CPU| over {len(cpu)} rows = {d:.6g}")
PY

for dev in cpu "$feature"; do
  echo "== shears bench on $dev"
  "$bin" bench --device "$dev" --repeats 5 | tee "$out/bench-$dev.txt"
done
# The paper-scale grid's epoch time (docs/cluster.md): ResNet-18 on CIFAR-sized inputs, GPU only
# (on 2 CPU cores it trains about 18 samples/s: 47 minutes an epoch).
echo "== ResNet-18 (CIFAR, batch 128) on $feature"
"$bin" bench --device "$feature" --models resnet18 --no-prune --no-sparse --repeats 5 | tee "$out/bench-resnet18.txt"
awk '/resnet18 train/ { for (i = 1; i <= NF; i++) if ($i == "samples/s") r = $(i - 1) }
     END { if (r) printf "ResNet-18 epoch of 50,000 images: %.0f s (GPU-hours of a grid: epochs x this / 3600)\n", 50000 / r }' \
  "$out/bench-resnet18.txt"
echo "outputs in $out"

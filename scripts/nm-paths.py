#!/usr/bin/env python3
"""The two iterative paths to an N:M pattern, measured side by side (docs/design.md#rows-and-nm).

Runs one sweep on LeNet-300-100 and the embedded Fashion-MNIST subset: 2:4 at its 50% target,
layer-wise, criteria magnitude and Wanda, regimes geometric (5 steps) and hybrid (3 steps from
70%) with the built-in comparison's patience fine-tuning, both `prune.pattern_path` values, seeds
0-4. Then pairs every feasible run with the projecting run of the same criterion, regime and
seed (same dense model) and prints the final test top-1 of each path, the paired difference
project - feasible with its 95% t interval, and the mean test top-1 right after the last
pruning step, before its fine-tuning.

    python3 scripts/nm-paths.py [--shears target/release/shears] [--out results/nm-paths]

Standard library only; the store is reused when rerun.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tomllib

SWEEP = """
targets = [0.5]
seeds = [0, 1, 2, 3, 4]
[base.model]
kind = "lenet300"
[base.data]
dataset = "fashion-mnist-mini"
[base.prune]
scope = "layer-wise"
pattern = "2:4"
[base.finetune]
mode = "patience"
max_epochs = 20
lr = 0.01
[regimes]
geometric = ["schedule.kind=geometric", "schedule.steps=5", "finetune.patience=[1]"]
hybrid = ["schedule.kind=hybrid", "schedule.steps=3", "schedule.start={target*0.7}", "finetune.patience=[5,1]"]
[grid]
"prune.criterion" = ['"magnitude"', '"wanda"']
"prune.pattern_path" = ['"feasible"', '"project"']
"""

# Two-sided 95% Student t quantiles t(0.975, df), df = 1..10 (standard table values).
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228]


def runs(store):
    """(criterion, regime, path, seed) -> (final row, last step's row) of every finished run."""
    out = {}
    for exp in sorted(os.listdir(store)):
        cfg_path = os.path.join(store, exp, "config.toml")
        if not os.path.isfile(cfg_path):
            continue
        with open(cfg_path, "rb") as f:
            cfg = tomllib.load(f)
        prune = cfg.get("prune", {})
        key = (prune.get("criterion"), cfg["schedule"]["kind"], prune.get("pattern_path", "feasible"))
        for seed_dir in sorted(os.listdir(os.path.join(store, exp))):
            rows_path = os.path.join(store, exp, seed_dir, "steps.jsonl")
            if not seed_dir.startswith("seed-") or not os.path.isfile(rows_path):
                continue
            with open(rows_path) as f:
                rows = [json.loads(line) for line in f if line.strip()]
            last = rows[-1]
            out[key + (last["seed"],)] = last
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shears", default="target/release/shears")
    p.add_argument("--out", default="results/nm-paths")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    sweep = os.path.join(a.out, "sweep.toml")
    with open(sweep, "w") as f:
        f.write(SWEEP)
    subprocess.run([a.shears, "sweep", "--config", sweep, "--out", a.out], check=True)
    r = runs(os.path.join(a.out, "runs"))
    print("| criterion | regime | feasible | project | project - feasible (95% CI) | n | "
          "before last fine-tuning: feasible / project |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for crit in ("magnitude", "wanda"):
        for regime in ("geometric", "hybrid"):
            seeds = sorted(s for (c, g, path, s) in r if (c, g, path) == (crit, regime, "feasible")
                           and (crit, regime, "project", s) in r)
            if len(seeds) < 2:
                print(f"| {crit} | {regime} | fewer than 2 paired seeds |", file=sys.stderr)
                continue
            f = [r[(crit, regime, "feasible", s)] for s in seeds]
            j = [r[(crit, regime, "project", s)] for s in seeds]
            diff = [b["test_top1"] - a["test_top1"] for a, b in zip(f, j)]
            half = T975[len(diff) - 2] * statistics.stdev(diff) / len(diff) ** 0.5
            mean = statistics.mean(diff)
            before = lambda rows: statistics.mean(x["pruned_test_top1"] for x in rows)
            print(f"| {crit} | {regime} | {100 * statistics.mean(x['test_top1'] for x in f):.2f}% "
                  f"| {100 * statistics.mean(x['test_top1'] for x in j):.2f}% "
                  f"| {100 * mean:+.2f} pp ({100 * (mean - half):+.2f} to {100 * (mean + half):+.2f}) "
                  f"| {len(diff)} | {100 * before(f):.2f}% / {100 * before(j):.2f}% |")


if __name__ == "__main__":
    main()

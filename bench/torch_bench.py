#!/usr/bin/env python3
"""PyTorch twin of `shears bench --json`: the same workloads, ids and JSON shape.

Mirrors crates/shears-cli/src/cmd/bench.rs and the models in crates/shears-nn/src/models/:

* training: random input batch (uniform [0, 1)), labels i % 10, forward + cross-entropy
  (mean log-softmax NLL) + backward + SGD step (lr 0.01, momentum 0.9, dampening 0,
  no Nesterov, weight decay 5e-4: shears' `OptimizerConfig::default()`); 2 warm-up steps,
  then `repeats` x `iters` timed steps, median samples/s. Like shears, each timed repeat
  ends with one extra training-mode forward before the clock is read.
* inference: eval mode, no autograd, 1 warm-up forward, then `repeats` x `iters` forwards.
* resnet18/prune-step: global magnitude prune of ResNet-18's prunable tensors (every
  Conv/Linear weight plus the classifier bias, BatchNorm excluded) to 90 %:
  torch.nn.utils.prune.global_unstructured with L1Unstructured and k = floor(0.9 N), then
  a check that the planned count was removed and every masked entry is zero (shears
  verifies the same). Model construction is outside the timed region, as in shears.

Thread count: OMP/MKL env vars are set before torch is imported, then
torch.set_num_threads(N) and torch.set_num_interop_threads(1).
"""

import argparse
import json
import math
import os
import sys
import time

MODELS = ("lenet300", "lenet5", "resnet20")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS),
                   help="comma-separated subset of " + ", ".join(MODELS))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--iters", type=int, default=10,
                   help="timed iterations per repeat (after 2 warm-up iterations)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op threads (default: CPUs available to this process)")
    p.add_argument("--no-prune", action="store_true",
                   help="skip the ResNet-18 pruning-step timing")
    a = p.parse_args(argv)
    a.models = [m.strip().lower() for m in a.models.split(",") if m.strip()]
    for m in a.models:
        if m not in MODELS:
            p.error(f"unknown model '{m}' (expected one of: {', '.join(MODELS)})")
    if a.threads is None:
        try:
            a.threads = len(os.sched_getaffinity(0))
        except AttributeError:
            a.threads = os.cpu_count() or 1
    if a.threads < 1 or a.batch_size < 1 or a.iters < 1 or a.repeats < 1:
        p.error("--threads, --batch-size, --iters and --repeats must be >= 1")
    return a


ARGS = parse_args()
# Must happen before torch is imported so OpenMP/MKL size their pools accordingly.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import warnings  # noqa: E402

# torch warns on import when NumPy is absent; nothing here needs NumPy.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils import prune as tprune  # noqa: E402

torch.set_num_threads(ARGS.threads)
torch.set_num_interop_threads(1)


# --- models (same layers, order and module paths as crates/shears-nn/src/models) ---------

class Mlp(nn.Module):
    """LeNet-300-100 (mlp.rs)."""

    def __init__(self, d_in, classes):
        super().__init__()
        self.fc1 = nn.Linear(d_in, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, classes)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class LeNet5(nn.Module):
    """LeNet-5 with ReLU and max-pooling (lenet.rs, `average_pool = false`)."""

    def __init__(self, input_chw, classes):
        super().__init__()
        c, h, w = input_chw
        self.conv1 = nn.Conv2d(c, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        flat = 16 * (((h // 2) - 4) // 2) * (((w // 2) - 4) // 2)
        self.fc1 = nn.Linear(flat, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class ConvBn(nn.Module):
    """Conv (no bias, padding k // 2) + BatchNorm (eps 1e-5, momentum 0.1) (vgg.rs)."""

    def __init__(self, c_in, c_out, k, stride):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        return self.bn(self.conv(x))


class BasicBlock(nn.Module):
    """Basic block with a 1x1 conv + BN projection shortcut when the shape changes."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = ConvBn(c_in, c_out, 3, stride)
        self.conv2 = ConvBn(c_out, c_out, 3, 1)
        self.shortcut = ConvBn(c_in, c_out, 1, stride) if (stride != 1 or c_in != c_out) else None

    def forward(self, x):
        out = F.relu(self.conv1(x))
        out = self.conv2(out)
        skip = self.shortcut(x) if self.shortcut is not None else x
        return F.relu(out + skip)


class ResNet(nn.Module):
    """CIFAR ResNet (resnet.rs): 3x3 stem, no max-pool, global average pool, one Linear."""

    def __init__(self, widths, blocks, input_chw, classes):
        super().__init__()
        self.stem = ConvBn(input_chw[0], widths[0], 3, 1)
        layers = []
        c = widths[0]
        for stage, (w, n) in enumerate(zip(widths, blocks)):
            for b in range(n):
                stride = 2 if stage > 0 and b == 0 else 1
                layers.append(BasicBlock(c, w, stride))
                c = w
        self.blocks = nn.ModuleList(layers)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = F.relu(self.stem(x))
        for block in self.blocks:
            x = block(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


RESNET20 = ((16, 32, 64), (3, 3, 3))
RESNET18 = ((64, 128, 256, 512), (2, 2, 2, 2))


def input_of(kind):
    return (1, 28, 28) if kind in ("lenet300", "lenet5") else (3, 32, 32)


def build(kind, input_chw, classes=10):
    if kind == "lenet300":
        return Mlp(math.prod(input_chw), classes)
    if kind == "lenet5":
        return LeNet5(input_chw, classes)
    if kind == "resnet20":
        return ResNet(*RESNET20, input_chw, classes)
    if kind == "resnet18":
        return ResNet(*RESNET18, input_chw, classes)
    raise ValueError(kind)


def prunable(model):
    """(module, name) pairs in forward order: Conv/Linear weights and biases (prune::prunable
    with include_bias = true). Only the classifier of a ResNet has a bias."""
    out = []
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            out.append((m, "weight"))
            if m.bias is not None:
                out.append((m, "bias"))
    return out


# --- workloads ---------------------------------------------------------------------------

def bench_model(kind, n, iters, repeats):
    c, h, w = input_of(kind)
    torch.manual_seed(0)
    model = build(kind, (c, h, w)).train()
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, dampening=0.0,
                            nesterov=False, weight_decay=5e-4)
    x = torch.rand(n, c, h, w)
    y = torch.arange(n, dtype=torch.int64) % 10

    def step():
        optim.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optim.step()

    for _ in range(2):
        step()  # warm-up
    train = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(iters):
            step()
        # shears reads one training-mode forward back before the clock; do the same.
        _ = model(x).detach()
        train.append(iters * n / (time.perf_counter() - t))

    model.eval()
    xe = torch.rand(n, c, h, w)
    infer = []
    with torch.no_grad():
        _ = model(xe)  # warm-up
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(iters):
                _ = model(xe)
            infer.append(iters * n / (time.perf_counter() - t))
    return [
        {"id": f"{kind}/train", "workload": f"{kind} train (fwd+bwd+step), batch {n}",
         "value": median(train), "unit": "samples/s"},
        {"id": f"{kind}/infer", "workload": f"{kind} inference, batch {n}",
         "value": median(infer), "unit": "samples/s"},
    ]


def bench_prune(repeats, amount=0.9):
    times = []
    n_weights = 0
    for _ in range(repeats):
        model = build("resnet18", (3, 32, 32))
        params = prunable(model)
        n_weights = sum(getattr(m, name).numel() for m, name in params)
        k = math.floor(n_weights * amount)  # shears_core::select::removal_count
        t = time.perf_counter()
        with torch.no_grad():
            tprune.global_unstructured(params, pruning_method=tprune.L1Unstructured, amount=k)
            removed = 0
            for m, name in params:
                mask = getattr(m, name + "_mask")
                pruned = mask == 0
                removed += int(pruned.sum())
                bad = int((getattr(m, name)[pruned] != 0).sum())
                if bad:
                    raise RuntimeError(f"{name}: {bad} pruned entries are not zero")
            if removed != k:
                raise RuntimeError(f"removed {removed} entries, planned {k}")
        times.append(time.perf_counter() - t)
        del model, params
    return {
        "id": "resnet18/prune-step",
        "workload": f"resnet18 global magnitude prune step to 90% ({n_weights} weights; "
                    "torch global_unstructured L1 + verify)",
        "value": median(times),
        "unit": "s",
    }


def median(v):
    # Same convention as bench.rs: the upper middle element, no averaging.
    return sorted(v)[len(v) // 2]


def main():
    a = ARGS
    rows = []
    for kind in a.models:
        rows.extend(bench_model(kind, a.batch_size, a.iters, a.repeats))
    if not a.no_prune:
        rows.append(bench_prune(a.repeats))
    print(json.dumps({
        "threads": torch.get_num_threads(),
        "device": "cpu",
        "torch": torch.__version__,
        "results": rows,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

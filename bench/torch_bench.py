#!/usr/bin/env python3
"""PyTorch twin of `shears bench --json`: the same workloads, ids and JSON shape.

Mirrors crates/shears-cli/src/cmd/bench.rs and the models in crates/shears-nn/src/models/:

* training: random input batch (uniform [0, 1)), labels i % 10, forward + cross-entropy
  (mean log-softmax NLL) + backward + SGD step (lr 0.01, momentum 0.9, dampening 0,
  no Nesterov, weight decay 5e-4: shears' `OptimizerConfig::default()`); 2 warm-up steps,
  then `repeats` x `iters` timed steps, median samples/s. Like shears, each timed repeat
  ends with one extra training-mode forward before the clock is read.
* the transformers (vit-tiny, gpt-tiny; opt-in with --models): the same, but with AdamW
  (lr 2e-3, betas 0.9/0.999, eps 1e-8, decoupled weight decay 0.05 on every parameter: the
  transformers' recipe in shears). vit-tiny reads 1x28x28 images, 10 classes. gpt-tiny
  reads `batch` sequences of 128 token ids uniform over a 64-symbol vocabulary, its targets
  the next tokens (cross-entropy per token, mean over all n*128 positions), and reports
  tokens/s (= sequences/s x 128).
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

# Run by default (as `shears bench`); KNOWN adds the models that are only run when asked for.
MODELS = ("lenet300", "lenet5", "resnet20")
KNOWN = MODELS + ("resnet18", "vit-tiny", "gpt-tiny")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS),
                   help="comma-separated subset of " + ", ".join(KNOWN)
                        + " (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--iters", type=int, default=10,
                   help="timed iterations per repeat (after 2 warm-up iterations)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op threads (default: CPUs available to this process)")
    p.add_argument("--no-prune", action="store_true",
                   help="skip the ResNet-18 pruning-step timing")
    p.add_argument("--check-params", action="store_true",
                   help="only build every known model, print its parameter count and check "
                        "the transformers' against shears' formula; no timing")
    a = p.parse_args(argv)
    a.models = [m.strip().lower() for m in a.models.split(",") if m.strip()]
    for m in a.models:
        if m not in KNOWN:
            p.error(f"unknown model '{m}' (expected one of: {', '.join(KNOWN)})")
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


class Attention(nn.Module):
    """Multi-head self-attention written out as in transformer.rs: separate q/k/v/out
    Linears, scores scaled by 1/sqrt(d_head), future positions filled with -1e9 before the
    softmax when causal (the same function as shears, not PyTorch's fused SDPA)."""

    def __init__(self, width, heads, causal):
        super().__init__()
        self.q = nn.Linear(width, width)
        self.k = nn.Linear(width, width)
        self.v = nn.Linear(width, width)
        self.out = nn.Linear(width, width)
        self.heads = heads
        self.causal = causal

    def forward(self, x):
        n, t, _ = x.shape

        def split(y):  # [n, t, heads * d] -> [n, heads, t, d]
            return y.reshape(n, t, self.heads, -1).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = (q @ k.transpose(2, 3)) * (1.0 / math.sqrt(q.shape[-1]))
        if self.causal:
            future = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(future, -1.0e9)
        context = scores.softmax(dim=3) @ v
        return self.out(context.transpose(1, 2).reshape(n, t, -1))


class Block(nn.Module):
    """Pre-LayerNorm block: x + attn(ln1(x)), then x + fc2(gelu(fc1(ln2(x)))). GELU is the
    exact erf form (Burn's `gelu`), LayerNorm eps 1e-5 with weight and bias (burn-nn's
    `LayerNormConfig` default)."""

    def __init__(self, shape, causal):
        super().__init__()
        width = shape["width"]
        hidden = width * shape["mlp_ratio"]
        self.ln1 = nn.LayerNorm(width, eps=LN_EPS)
        self.attn = Attention(width, shape["heads"], causal)
        self.ln2 = nn.LayerNorm(width, eps=LN_EPS)
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="none"))


class Vit(nn.Module):
    """vit-tiny (vit.rs): 4x4 patches flattened channel-major through a Linear, class token,
    learned positions, pre-LN blocks, final LayerNorm on the class token, Linear head."""

    def __init__(self, shape, input_chw, classes):
        super().__init__()
        c, h, w = input_chw
        width = shape["width"]
        self.patch = nn.Linear(c * PATCH * PATCH, width)
        self.cls = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, (h // PATCH) * (w // PATCH) + 1, width) * 0.02)
        self.blocks = nn.ModuleList(Block(shape, False) for _ in range(shape["depth"]))
        self.norm = nn.LayerNorm(width, eps=LN_EPS)
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        n, c, h, w = x.shape
        gh, gw = h // PATCH, w // PATCH
        x = (x.reshape(n, c, gh, PATCH, gw, PATCH).permute(0, 2, 4, 1, 3, 5)
             .reshape(n, gh * gw, c * PATCH * PATCH))
        x = self.patch(x)
        x = torch.cat([self.cls.expand(n, 1, -1), x], dim=1) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, 0]))


class Gpt(nn.Module):
    """gpt-tiny (gpt.rs): token embedding + learned positions [context, width], causal pre-LN
    blocks, final LayerNorm, untied Linear head; logits flattened to [n * t, vocab]."""

    def __init__(self, shape, context, vocab):
        super().__init__()
        width = shape["width"]
        self.tok = nn.Embedding(vocab, width)
        nn.init.normal_(self.tok.weight, std=0.02)
        self.pos = nn.Parameter(torch.randn(context, width) * 0.02)
        self.blocks = nn.ModuleList(Block(shape, True) for _ in range(shape["depth"]))
        self.norm = nn.LayerNorm(width, eps=LN_EPS)
        self.head = nn.Linear(width, vocab)

    def forward(self, tokens):
        n, t = tokens.shape
        x = self.tok(tokens) + self.pos[:t]
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.norm(x))
        return logits.reshape(n * t, -1)


RESNET20 = ((16, 32, 64), (3, 3, 3))
RESNET18 = ((64, 128, 256, 512), (2, 2, 2, 2))
# Default shapes (VIT_TINY in vit.rs, GPT_TINY in gpt.rs) and the benchmark's sizes
# (crates/shears-experiment/src/bench/mod.rs: GPT_CONTEXT, GPT_VOCAB).
PATCH = 4
LN_EPS = 1e-5
VIT_TINY = {"depth": 4, "width": 128, "heads": 4, "mlp_ratio": 2}
GPT_TINY = {"depth": 4, "width": 128, "heads": 4, "mlp_ratio": 4}
GPT_CONTEXT = 128
GPT_VOCAB = 64
# The transformers' AdamW (shears' TrainRecipe::for_model): lr and decoupled weight decay.
ADAMW_LR = 2e-3
ADAMW_WEIGHT_DECAY = 0.05


def input_of(kind):
    """Input [c, h, w] and classes, as shears' `bench::spec_of`; gpt-tiny's input is
    [1, 1, context] and its classes the vocabulary."""
    if kind == "gpt-tiny":
        return (1, 1, GPT_CONTEXT), GPT_VOCAB
    return ((1, 28, 28) if kind in ("lenet300", "lenet5", "vit-tiny") else (3, 32, 32)), 10


def shears_params(kind):
    """Parameters by shears' formula (`ModelSpec::layers` params + `Vit/Gpt::other_params`):
    every Linear with its bias, class token, positions, embedding, two LayerNorms per block
    and the final one (weight and bias each)."""
    (c, h, w_in), classes = input_of(kind)
    s = VIT_TINY if kind == "vit-tiny" else GPT_TINY
    w, depth = s["width"], s["depth"]
    hidden = w * s["mlp_ratio"]
    blocks = depth * (4 * (w * w + w) + (w * hidden + hidden) + (hidden * w + w) + 4 * w)
    head = w * classes + classes
    if kind == "vit-tiny":
        tokens = (h // PATCH) * (w_in // PATCH) + 1
        patch = c * PATCH * PATCH * w + w
        return patch + blocks + head + w + tokens * w + 2 * w
    return blocks + head + (classes + w_in) * w + 2 * w


def build(kind, input_chw, classes=10):
    if kind == "lenet300":
        return Mlp(math.prod(input_chw), classes)
    if kind == "lenet5":
        return LeNet5(input_chw, classes)
    if kind == "resnet20":
        return ResNet(*RESNET20, input_chw, classes)
    if kind == "resnet18":
        return ResNet(*RESNET18, input_chw, classes)
    if kind == "vit-tiny":
        return Vit(VIT_TINY, input_chw, classes)
    if kind == "gpt-tiny":
        return Gpt(GPT_TINY, input_chw[2], classes)
    raise ValueError(kind)


def params_of(model):
    """Trainable parameters (BatchNorm running statistics are buffers, not counted; shears'
    JSON leaves them out too)."""
    return sum(p.numel() for p in model.parameters())


def check_params():
    """Every known model's parameter count; the transformers' must equal shears' formula
    (and vit-tiny's the documented 540,170). Returns the number of mismatches."""
    bad = 0
    for kind in KNOWN:
        chw, classes = input_of(kind)
        n = params_of(build(kind, chw, classes))
        note = ""
        if kind in ("vit-tiny", "gpt-tiny"):
            want = shears_params(kind)
            ok = n == want and (kind != "vit-tiny" or n == 540_170)
            bad += not ok
            note = f" (shears' formula: {want:,}{'' if ok else ' MISMATCH'})"
        print(f"{kind:<10} {n:>12,}{note}")
    return bad


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

def optimizer_of(kind, model):
    """SGD for the CNNs (shears' `OptimizerConfig::default()`, lr 0.01), AdamW for the
    transformers; returns the optimizer and the step's name in the workload text."""
    if kind in ("vit-tiny", "gpt-tiny"):
        return torch.optim.AdamW(model.parameters(), lr=ADAMW_LR, betas=(0.9, 0.999), eps=1e-8,
                                 weight_decay=ADAMW_WEIGHT_DECAY), "fwd+bwd+AdamW step"
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, dampening=0.0,
                           nesterov=False, weight_decay=5e-4), "fwd+bwd+step"


def random_batch(kind, n):
    """(input, targets): images uniform in [0, 1) with labels i % 10, or token ids uniform
    over the vocabulary whose targets are the next tokens."""
    (c, h, w), classes = input_of(kind)
    if kind == "gpt-tiny":
        ids = torch.randint(0, classes, (n, w + 1))
        return ids[:, :w].contiguous(), ids[:, 1:].reshape(-1)
    return torch.rand(n, c, h, w), torch.arange(n, dtype=torch.int64) % 10


def batch_of(kind, n):
    """(units per batch, unit, description), as shears' `batch_of`."""
    if kind == "gpt-tiny":
        return n * GPT_CONTEXT, "tokens/s", f"batch {n} sequences x {GPT_CONTEXT} tokens"
    return n, "samples/s", f"batch {n}"


def bench_model(kind, n, iters, repeats):
    chw, classes = input_of(kind)
    per_batch, unit, batch = batch_of(kind, n)
    torch.manual_seed(0)
    model = build(kind, chw, classes).train()
    optim, step_name = optimizer_of(kind, model)
    x, y = random_batch(kind, n)

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
        train.append(iters * per_batch / (time.perf_counter() - t))

    model.eval()
    xe, _ = random_batch(kind, n)
    infer = []
    with torch.no_grad():
        _ = model(xe)  # warm-up
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(iters):
                _ = model(xe)
            infer.append(iters * per_batch / (time.perf_counter() - t))
    return [
        {"id": f"{kind}/train", "workload": f"{kind} train ({step_name}), {batch}",
         "value": median(train), "unit": unit},
        {"id": f"{kind}/infer", "workload": f"{kind} inference, {batch}",
         "value": median(infer), "unit": unit},
    ], params_of(model)


def bench_prune(repeats, amount=0.9):
    times = []
    n_weights = 0
    for _ in range(repeats):
        model = build("resnet18", input_of("resnet18")[0])
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
    if a.check_params:
        return 1 if check_params() else 0
    rows = []
    params = {}
    for kind in a.models:
        model_rows, params[kind] = bench_model(kind, a.batch_size, a.iters, a.repeats)
        rows.extend(model_rows)
    if not a.no_prune:
        rows.append(bench_prune(a.repeats))
    print(json.dumps({
        "threads": torch.get_num_threads(),
        "device": "cpu",
        "torch": torch.__version__,
        "params": params,
        "results": rows,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

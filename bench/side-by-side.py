#!/usr/bin/env python3
"""Side-by-side benchmark: shears (`shears bench --json`) against PyTorch (bench/torch_bench.py).

Builds shears in release mode, makes sure a Python with torch is available (bench/.venv,
created on first use), runs both benchmarks interleaved for --rounds rounds with the same
thread count and sizes, and prints a markdown table of per-workload medians over rounds with
the ratio (> 1 always means shears is faster). Standard library only. Not part of CI.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
VENV = os.path.join(BENCH_DIR, ".venv")
TORCH_BENCH = os.path.join(BENCH_DIR, "torch_bench.py")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# Exit codes, so a caller can tell which part failed.
EXIT_SETUP = 2   # build, virtualenv or torch install
EXIT_SHEARS = 3  # the shears side failed or printed something unusable
EXIT_TORCH = 4   # the PyTorch side failed or printed something unusable
EXIT_MISMATCH = 5  # both ran, but their results cannot be compared


class Failure(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def log(msg):
    print(f"[side-by-side] {msg}", file=sys.stderr, flush=True)


def default_threads():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3,
                   help="interleaved rounds (shears, torch, shears, torch, ...); default 3")
    p.add_argument("--threads", type=int, default=default_threads(),
                   help="threads for both sides (RAYON_NUM_THREADS / torch.set_num_threads); "
                        "default: CPUs available (%(default)s)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--iters", type=int, default=10,
                   help="timed iterations per repeat, after 2 warm-up iterations")
    p.add_argument("--repeats", type=int, default=3,
                   help="repeats per run; each side reports the median repeat")
    p.add_argument("--models", default="lenet300,lenet5,resnet20",
                   help="comma-separated models for the train/infer workloads (default "
                        "%(default)s); also resnet18, vit-tiny, gpt-tiny. The transformers "
                        "take minutes per run at the default sizes, so they are opt-in")
    p.add_argument("--no-prune", action="store_true", help="skip the ResNet-18 prune step")
    p.add_argument("--python", metavar="PATH",
                   help="an existing Python interpreter with torch (skips bench/.venv)")
    p.add_argument("--no-build", action="store_true",
                   help="use the already built target/release/shears instead of running cargo")
    p.add_argument("--out", metavar="FILE", help="also write the markdown report to FILE")
    p.add_argument("--shears-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for `shears bench` only (repeatable), e.g. --shears-arg=--fast-conv")
    a = p.parse_args()
    for name in ("rounds", "threads", "batch_size", "iters", "repeats"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return a


def run(cmd, code, what, env=None, capture=True):
    """Runs cmd; on failure raises Failure(code) naming `what` and showing stderr's tail."""
    try:
        r = subprocess.run(cmd, cwd=ROOT, env=env, text=True,
                           stdout=subprocess.PIPE if capture else sys.stderr,
                           stderr=subprocess.PIPE if capture else None)
    except OSError as e:
        raise Failure(code, f"{what}: could not start {cmd[0]}: {e}")
    if r.returncode != 0:
        tail = ""
        if capture:
            lines = (r.stderr or "").strip().splitlines()[-30:]
            tail = "\n" + "\n".join("    " + l for l in lines) if lines else ""
        raise Failure(code, f"{what} failed (exit code {r.returncode}): {' '.join(cmd)}{tail}")
    return r


# --- setup -------------------------------------------------------------------------------

def build_shears(no_build):
    if no_build:
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        exe = os.path.join(target, "release", "shears")
        if not os.path.isfile(exe):
            raise Failure(EXIT_SETUP, f"--no-build: {exe} does not exist")
        return exe
    if shutil.which("cargo") is None:
        raise Failure(EXIT_SETUP, "shears build: cargo is not on PATH")
    log("building shears (cargo build --release -p shears-cli) ...")
    cmd = ["cargo", "build", "--release", "-p", "shears-cli",
           "--message-format=json-render-diagnostics"]
    # Compiler messages go straight to the terminal; stdout carries the artifact records.
    try:
        r = subprocess.run(cmd, cwd=ROOT, text=True, stdout=subprocess.PIPE)
    except OSError as e:
        raise Failure(EXIT_SETUP, f"shears build: could not start cargo: {e}")
    if r.returncode != 0:
        raise Failure(EXIT_SETUP, f"shears build failed (exit code {r.returncode}): {' '.join(cmd)}")
    exe = None
    for line in r.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if (msg.get("reason") == "compiler-artifact" and msg.get("executable")
                and msg.get("target", {}).get("name") == "shears"):
            exe = msg["executable"]
    if not exe or not os.path.isfile(exe):
        raise Failure(EXIT_SETUP, "shears build: cargo reported no `shears` executable")
    return exe


def torch_version(python):
    r = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                       text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.stdout.strip() if r.returncode == 0 else None


def ensure_python(explicit):
    if explicit:
        v = torch_version(explicit)
        if v is None:
            raise Failure(EXIT_SETUP, f"--python {explicit}: cannot `import torch` with it")
        return explicit, v
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        log(f"creating virtualenv {VENV} ...")
        run([sys.executable, "-m", "venv", VENV], EXIT_SETUP, "virtualenv creation")
    v = torch_version(py)
    if v is not None:
        return py, v
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check"]
    log(f"installing torch into {VENV}: trying the CPU-only index {CPU_INDEX} first ...")
    # pip's progress goes to stderr so that stdout carries only the report.
    r = subprocess.run(pip + ["--timeout", "15", "--retries", "0", "--index-url", CPU_INDEX, "torch"],
                       text=True, stdout=sys.stderr)
    if r.returncode != 0:
        log("the CPU-only index is not reachable; installing torch from the default index "
            "(on Linux this pulls the CUDA wheels too, several GB; it takes minutes) ...")
        run(pip + ["torch"], EXIT_SETUP, "pip install torch", capture=False)
    v = torch_version(py)
    if v is None:
        raise Failure(EXIT_SETUP, f"torch was installed into {VENV} but `import torch` fails")
    return py, v


# --- running -----------------------------------------------------------------------------

def parse_json(stdout, code, side):
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                doc = json.loads(line)
            except ValueError as e:
                raise Failure(code, f"{side}: output is not valid JSON: {e}")
            if not isinstance(doc.get("results"), list):
                raise Failure(code, f"{side}: JSON has no `results` list")
            return doc
    raise Failure(code, f"{side}: printed no JSON object on stdout")


def bench_args(a):
    args = ["--models", a.models, "--batch-size", str(a.batch_size),
            "--iters", str(a.iters), "--repeats", str(a.repeats)]
    return args + (["--no-prune"] if a.no_prune else [])


def run_side(cmd, env, code, side, threads):
    r = run(cmd, code, f"{side} benchmark", env=env)
    doc = parse_json(r.stdout, code, side)
    if doc.get("threads") != threads:
        raise Failure(code, f"{side}: ran with {doc.get('threads')} threads, expected {threads}")
    return doc


def thread_env(n):
    env = dict(os.environ)
    for var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(n)
    return env


def check_params(shears_runs, torch_runs):
    """Both sides must build models of the same size: compares the trainable-parameter counts
    each reports per model (`params` in its JSON). Returns the agreed counts."""
    s, t = shears_runs[0].get("params"), torch_runs[0].get("params")
    if s is None or t is None:
        log("parameter counts not checked: a side reported none (an older shears build?)")
        return {}
    differ = {k: (s.get(k), t[k]) for k in t if s.get(k) != t[k]}
    if differ:
        raise Failure(EXIT_MISMATCH, "parameter counts differ (model: shears, PyTorch): "
                      + ", ".join(f"{k}: {a}, {b}" for k, (a, b) in differ.items()))
    return t


# --- report ------------------------------------------------------------------------------

def lscpu():
    info = {}
    try:
        out = subprocess.run(["lscpu"], text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env={**os.environ, "LC_ALL": "C"}).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            info[k.strip()] = v.strip()
    except OSError:
        pass
    model = info.get("Model name") or platform.processor() or "unknown"
    try:
        cores = int(info["Core(s) per socket"]) * int(info.get("Socket(s)", "1"))
    except (KeyError, ValueError):
        cores = None
    cpus = info.get("CPU(s)") or str(os.cpu_count())
    return model, cores, cpus


def git_commit():
    def git(*args):
        r = subprocess.run(["git", *args], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        return r.returncode, r.stdout.strip()
    rc, sha = git("rev-parse", "--short=12", "HEAD")
    if rc != 0:
        return "unknown"
    rc, _ = git("diff", "--quiet", "HEAD", "--", "crates", "Cargo.toml", "Cargo.lock")
    return sha + (" (with uncommitted changes under crates/ or Cargo.*)" if rc == 1 else "")


def fmt(value, unit):
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.3f} s"
    return f"{value:,.0f} {unit}"


def report(a, shears_runs, torch_runs, torch_ver):
    params = check_params(shears_runs, torch_runs)
    shears_ids = [r["id"] for r in shears_runs[0]["results"]]
    desc = {r["id"]: r for r in shears_runs[0]["results"]}
    torch_ids = [r["id"] for r in torch_runs[0]["results"]]
    missing = [i for i in torch_ids if i not in desc]
    if missing or not torch_ids:
        raise Failure(EXIT_MISMATCH, f"workloads differ: PyTorch ran {torch_ids}, "
                                     f"shears has no {missing or 'workload'} (shears ran {shears_ids})")
    ids = [i for i in shears_ids if i in torch_ids]
    shears_only = [i for i in shears_ids if i not in torch_ids]
    for i in ids:
        t_unit = next(r["unit"] for r in torch_runs[0]["results"] if r["id"] == i)
        if t_unit != desc[i]["unit"]:
            raise Failure(EXIT_MISMATCH, f"{i}: shears reports {desc[i]['unit']}, PyTorch {t_unit}")

    def values(runs, i):
        out = []
        for run_ in runs:
            row = next(r for r in run_["results"] if r["id"] == i)
            out.append(row["value"])
        return out

    model, cores, cpus = lscpu()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# shears vs PyTorch, side by side",
        "",
        f"- date: {now}",
        f"- CPU: {model}; {cores if cores is not None else '?'} cores, {cpus} logical CPUs",
        f"- threads: {a.threads} on both sides (RAYON_NUM_THREADS; torch.set_num_threads, "
        "1 inter-op thread, OMP/MKL_NUM_THREADS)",
        f"- PyTorch {torch_ver}; shears commit {git_commit()}",
        f"- batch {a.batch_size}, {a.iters} timed iterations x {a.repeats} repeats per run "
        f"(median repeat), {a.rounds} interleaved round(s); each cell is the median over rounds",
    ]
    if params:
        lines.append("- trainable parameters (equal on both sides): "
                     + ", ".join(f"{k} {v:,}" for k, v in params.items()))
    lines += [
        "",
        "Ratio > 1 means shears is faster: shears/PyTorch for samples/s and tokens/s (higher "
        "is better), "
        "PyTorch/shears for the prune step in seconds (lower is better).",
        "",
        "| workload | shears | PyTorch | ratio (>1: shears faster) |",
        "| --- | ---: | ---: | ---: |",
    ]
    raw = []
    for i in ids:
        unit = desc[i]["unit"]
        s, t = values(shears_runs, i), values(torch_runs, i)
        sm, tm = statistics.median(s), statistics.median(t)
        ratio = (tm / sm) if unit == "s" else (sm / tm)
        lines.append(f"| {desc[i]['workload']} | {fmt(sm, unit)} | {fmt(tm, unit)} | {ratio:.2f} |")
        raw.append(f"- {i} ({unit}): shears {', '.join(f'{v:.4g}' for v in s)}; "
                   f"PyTorch {', '.join(f'{v:.4g}' for v in t)}")
    lines += ["", "Per-round values:", ""] + raw
    if shears_only:
        lines += ["", "Not compared (shears rows without a PyTorch counterpart): "
                  + ", ".join(shears_only)]
    return "\n".join(lines) + "\n"


def main():
    a = parse_args()
    try:
        exe = build_shears(a.no_build)
        python, torch_ver = ensure_python(a.python)
        log(f"shears: {exe}; PyTorch {torch_ver}: {python}; threads {a.threads}")
        env = thread_env(a.threads)
        shears_cmd = [exe, "bench", "--json"] + bench_args(a)
        # Rows PyTorch has no twin for only cost time: skip them where this build can.
        help_text = run([exe, "bench", "--help"], EXIT_SHEARS, "shears bench --help").stdout
        if "--no-sparse" in help_text:
            shears_cmd.append("--no-sparse")
        shears_cmd += a.shears_arg
        torch_cmd = [python, TORCH_BENCH, "--threads", str(a.threads)] + bench_args(a)
        shears_runs, torch_runs = [], []
        for r in range(1, a.rounds + 1):
            log(f"round {r}/{a.rounds}: shears ...")
            shears_runs.append(run_side(shears_cmd, env, EXIT_SHEARS, "shears", a.threads))
            log(f"round {r}/{a.rounds}: PyTorch ...")
            torch_runs.append(run_side(torch_cmd, env, EXIT_TORCH, "PyTorch", a.threads))
        md = report(a, shears_runs, torch_runs, torch_ver)
    except Failure as f:
        log(f"FAILED: {f}")
        return f.code
    print(md, end="")
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(md)
        log(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

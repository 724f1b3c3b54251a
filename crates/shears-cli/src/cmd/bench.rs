//! `shears bench`: throughput of training and inference, and the cost of one pruning step.
//! A benchmark, not a test: it reports numbers (median of repeats), it asserts nothing.

use super::common::{DeviceArgs, print_json};
use anyhow::Result;
use clap::Args;
use serde::Serialize;
use shears_core::masks::{Scope, StepAmount};
use shears_nn::models::{ModelKind, ModelSpec};
use shears_nn::optim::OptimizerConfig;
use shears_nn::prune::{self, Criterion, MaskSet};
use shears_nn::train::{Devices, cross_entropy};
use std::time::Instant;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Models to time training and inference of.
    #[arg(long, value_delimiter = ',', default_values_t = [ModelKind::LeNet300, ModelKind::LeNet5, ModelKind::ResNet20])]
    pub models: Vec<ModelKind>,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Timed iterations per repeat (after 2 warm-up iterations).
    #[arg(long, default_value_t = 10)]
    pub iters: usize,
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Skip the ResNet-18 pruning-step timing.
    #[arg(long)]
    pub no_prune: bool,
    /// Skip the pruned-inference rows: CSR vs dense-masked LeNet-300-100 at 90/95/98%
    /// sparsity, and physically shrunk conv nets at 50/75% channel sparsity.
    #[arg(long)]
    pub no_sparse: bool,
    /// Run convolutions and max-pools on Burn's own kernels instead of shears' (`shears-kernels`:
    /// one cache-sized GEMM per sample, hand-written backward; the default on the CPU).
    #[arg(long)]
    pub burn_conv: bool,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

#[derive(Serialize)]
struct Row {
    /// Stable key (`model/train`, `model/infer`, ...) that `bench/side-by-side.py` matches on.
    id: String,
    workload: String,
    value: f64,
    unit: &'static str,
}

impl Row {
    fn new(id: impl Into<String>, workload: String, value: f64, unit: &'static str) -> Self {
        Row {
            id: id.into(),
            workload,
            value,
            unit,
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn input_of(kind: ModelKind) -> [usize; 3] {
    match kind {
        ModelKind::LeNet300 | ModelKind::LeNet5 => [1, 28, 28],
        _ => [3, 32, 32],
    }
}

pub fn run(a: BenchArgs) -> Result<()> {
    use burn::prelude::*;
    let devices: Devices = a.device.devices()?;
    shears_nn::ops::set_fast_conv(!a.burn_conv);
    let mut rows = Vec::new();
    // Burn-flex runs on rayon's global pool, which honours RAYON_NUM_THREADS.
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    for &kind in &a.models {
        let spec = ModelSpec {
            kind,
            input: input_of(kind),
            classes: 10,
        };
        let [c, h, w] = spec.input;
        let n = a.batch_size;
        devices.train.seed(0);
        let mut model = spec.init(&devices.train);
        let mut optim = OptimizerConfig::default().build();
        let x = Tensor::<4>::random(
            [n, c, h, w],
            burn::tensor::Distribution::Default,
            &devices.train,
        );
        let y = Tensor::<1, Int>::from_ints(
            (0..n)
                .map(|i| (i % 10) as i64)
                .collect::<Vec<_>>()
                .as_slice(),
            &devices.train,
        );
        let mut step = |model: shears_nn::models::Network| {
            let loss = cross_entropy(model.forward(x.clone()), y.clone());
            let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
            optim.step(0.01, model, grads)
        };
        for _ in 0..2 {
            model = step(model); // warm-up
        }
        let mut train = Vec::new();
        for _ in 0..a.repeats {
            let t = Instant::now();
            for _ in 0..a.iters {
                model = step(model);
            }
            // Wait for the last step to finish before reading the clock.
            let _ = model.clone().forward(x.clone()).into_data();
            train.push((a.iters * n) as f64 / t.elapsed().as_secs_f64());
        }
        rows.push(Row::new(
            format!("{kind}/train"),
            format!("{kind} train (fwd+bwd+step), batch {n}"),
            median(train),
            "samples/s",
        ));
        let eval = model.valid();
        let xe = Tensor::<4>::random(
            [n, c, h, w],
            burn::tensor::Distribution::Default,
            &devices.base,
        );
        let _ = eval.forward(xe.clone()).into_data();
        let mut infer = Vec::new();
        for _ in 0..a.repeats {
            let t = Instant::now();
            for _ in 0..a.iters {
                let _ = eval.forward(xe.clone()).into_data();
            }
            infer.push((a.iters * n) as f64 / t.elapsed().as_secs_f64());
        }
        rows.push(Row::new(
            format!("{kind}/infer"),
            format!("{kind} inference, batch {n}"),
            median(infer),
            "samples/s",
        ));
    }
    if !a.no_prune {
        let spec = ModelSpec {
            kind: ModelKind::ResNet18,
            input: [3, 32, 32],
            classes: 10,
        };
        let mut times = Vec::new();
        let mut n_weights = 0;
        for _ in 0..a.repeats {
            let model = spec.init(&devices.base);
            let mut masks = MaskSet::dense(prune::prunable(&spec, true));
            n_weights = masks.params.iter().map(|p| p.len()).sum::<usize>();
            let t = Instant::now();
            let model = prune::prune_step(
                model,
                &mut masks,
                Criterion::Magnitude,
                None,
                &StepAmount::Uniform(0.9),
                &Scope::global(),
                0,
                0,
            )
            .map_err(anyhow::Error::msg)?;
            times.push(t.elapsed().as_secs_f64());
            drop(model);
        }
        rows.push(Row::new("resnet18/prune-step", format!("resnet18 global magnitude prune step to 90% ({n_weights} weights; read, score, select, mask, verify)"), median(times), "s"));
    }
    if !a.no_sparse {
        if a.models.contains(&ModelKind::LeNet300) {
            sparse_rows(&a, &devices.base, &mut rows)?;
        }
        for &kind in &a.models {
            if kind != ModelKind::LeNet300 {
                shrunk_rows(&a, kind, &devices.base, &mut rows)?;
            }
        }
    }
    if a.json {
        return print_json(
            &serde_json::json!({"threads": threads, "device": a.device.device, "results": rows}),
        );
    }
    println!("{threads} threads, device {}", a.device.device);
    for r in &rows {
        println!("{:<100} {:>12.3} {}", r.workload, r.value, r.unit);
    }
    Ok(())
}

/// Shortest timed round of a pruned-inference workload: a CSR forward of LeNet-300-100 takes
/// well under a millisecond, and ten of them would time the scheduler rather than the kernel.
const MIN_ROUND_S: f64 = 0.05;

/// Samples/s of each workload: a warm-up call each, which also sizes its round to
/// `max(a.iters, MIN_ROUND_S / call time)` calls; then `a.repeats` rounds in which every workload
/// runs its calls in turn (interleaved, so a noisy neighbour slows all of them alike); the
/// median round per workload.
fn throughputs(a: &BenchArgs, work: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let iters: Vec<usize> = work
        .iter_mut()
        .map(|f| {
            f();
            let t = Instant::now();
            f();
            let per_call = t.elapsed().as_secs_f64().max(1e-7);
            a.iters
                .max((MIN_ROUND_S / per_call).ceil().min(1e5) as usize)
        })
        .collect();
    let mut v = vec![Vec::new(); work.len()];
    for _ in 0..a.repeats {
        for ((f, v), &n) in work.iter_mut().zip(&mut v).zip(&iters) {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            v.push((n * a.batch_size) as f64 / t.elapsed().as_secs_f64());
        }
    }
    v.into_iter().map(median).collect()
}

fn pct(v: f64) -> String {
    format!("{:.0}", v * 100.0)
}

/// Unstructured LeNet-300-100 at 90/95/98% (one-shot global magnitude pruning of a random
/// init, weights and biases, as the ResNet-18 row): Burn's dense forward of the masked model
/// against the CSR chain of `shears_nn::csr_inference`, same batch.
fn sparse_rows(a: &BenchArgs, device: &shears_nn::Device, rows: &mut Vec<Row>) -> Result<()> {
    use burn::prelude::*;
    use shears_nn::csr_inference::SparseMlp;
    let spec = ModelSpec {
        kind: ModelKind::LeNet300,
        input: input_of(ModelKind::LeNet300),
        classes: 10,
    };
    let [c, h, w] = spec.input;
    let n = a.batch_size;
    for sparsity in [0.9, 0.95, 0.98] {
        device.seed(0);
        let model = spec.init(device);
        let mut masks = MaskSet::dense(prune::prunable(&spec, true));
        let model = prune::prune_step(
            model,
            &mut masks,
            Criterion::Magnitude,
            None,
            &StepAmount::Uniform(sparsity),
            &Scope::global(),
            0,
            0,
        )
        .map_err(anyhow::Error::msg)?;
        let eval = model.valid();
        let x = Tensor::<4>::random([n, c, h, w], burn::tensor::Distribution::Default, device);
        let xs = x
            .clone()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let csr = SparseMlp::from_network(&eval, Some(&masks)).map_err(anyhow::Error::msg)?;
        let dense_logits = eval
            .forward(x.clone())
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let csr_logits = csr.forward(&xs).map_err(anyhow::Error::msg)?;
        let max_diff = dense_logits
            .iter()
            .zip(&csr_logits)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        let t = throughputs(
            a,
            &mut [
                &mut || {
                    let _ = eval.forward(x.clone()).into_data();
                },
                &mut || {
                    let _ = csr.forward(&xs);
                },
            ],
        );
        let (dense, sparse) = (t[0], t[1]);
        let p = pct(sparsity);
        let nnz = csr.chain().nnz();
        rows.push(Row::new(
            format!("lenet300/infer-dense-masked@{p}"),
            format!(
                "lenet300 inference, {p}% global magnitude masked, dense Burn forward, batch {n}"
            ),
            dense,
            "samples/s",
        ));
        rows.push(Row::new(format!("lenet300/infer-csr@{p}"), format!("lenet300 inference, {p}% masked, CSR ({nnz} weights, max |logit diff| {max_diff:.1e}), batch {n}"), sparse, "samples/s"));
        rows.push(Row::new(
            format!("lenet300/csr-speedup@{p}"),
            format!("lenet300 {p}%: CSR / dense-masked inference throughput"),
            sparse / dense,
            "x",
        ));
    }
    Ok(())
}

/// Structured pruning realised by surgery: inference of a random-init conv net against copies
/// shrunk at 50% and 75% channel sparsity (uniform layer-wise ratio over every channel group,
/// group L2-norm importance), with the FLOP reduction from the modules' actual shapes. The
/// derived row is measured speed-up over FLOP reduction (1 = speed-up in full proportion).
fn shrunk_rows(
    a: &BenchArgs,
    kind: ModelKind,
    device: &shears_nn::Device,
    rows: &mut Vec<Row>,
) -> Result<()> {
    use burn::prelude::*;
    use shears_nn::structured::{GroupRatios, Importance, StructuredPlan, footprint, shrink};
    let spec = ModelSpec {
        kind,
        input: input_of(kind),
        classes: 10,
    };
    let [c, h, w] = spec.input;
    let n = a.batch_size;
    device.seed(0);
    let eval = spec.init(device).valid();
    let x = Tensor::<4>::random([n, c, h, w], burn::tensor::Distribution::Default, device);
    let dense_flops = footprint(&eval, &spec).map_err(anyhow::Error::msg)?.flops;
    let ratios = [0.5, 0.75];
    let mut shrunk = Vec::new();
    for ratio in ratios {
        let plan = StructuredPlan::new(&eval, Importance::default(), &GroupRatios::uniform(ratio))
            .map_err(anyhow::Error::msg)?;
        let small = shrink(&eval, &plan.groups, &plan.keep).map_err(anyhow::Error::msg)?;
        let flops = footprint(&small, &spec).map_err(anyhow::Error::msg)?.flops;
        shrunk.push((small, flops));
    }
    let forward = |net: &shears_nn::models::Network| {
        let _ = net.forward(x.clone()).into_data();
    };
    let t = throughputs(
        a,
        &mut [
            &mut || forward(&eval),
            &mut || forward(&shrunk[0].0),
            &mut || forward(&shrunk[1].0),
        ],
    );
    let dense = t[0];
    rows.push(Row::new(format!("{kind}/infer-dense"), format!(
            "{kind} inference, random init ({dense_flops} FLOPs/sample), baseline of the shrunk rows, batch {n}"
        ), dense, "samples/s"));
    for ((ratio, (_, flops)), speed) in ratios.iter().zip(&shrunk).zip(&t[1..]) {
        let p = pct(*ratio);
        let ideal = dense_flops as f64 / (*flops).max(1) as f64;
        let achieved = speed / dense;
        rows.push(Row::new(format!("{kind}/infer-shrunk@{p}"), format!(
                "{kind} inference, shrunk at {p}% channel sparsity ({flops} FLOPs/sample), batch {n}"
            ), *speed, "samples/s"));
        rows.push(Row::new(
            format!("{kind}/flops-ratio@{p}"),
            format!("{kind} {p}% shrunk: dense / shrunk FLOPs (ideal speed-up)"),
            ideal,
            "x",
        ));
        rows.push(Row::new(
            format!("{kind}/speedup-shrunk@{p}"),
            format!("{kind} {p}% shrunk: shrunk / dense inference throughput"),
            achieved,
            "x",
        ));
        rows.push(Row::new(
            format!("{kind}/shrunk-achieved/ideal@{p}"),
            format!("{kind} {p}% shrunk: measured speed-up / FLOP reduction"),
            achieved / ideal,
            "x",
        ));
    }
    Ok(())
}

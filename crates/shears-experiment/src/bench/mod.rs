//! The benchmark of `shears bench`: throughput of training and inference, and the cost of one
//! pruning step. A benchmark, not a test: it reports numbers (median of repeats), it asserts
//! nothing.

mod pruned;

use burn::prelude::*;
use serde::Serialize;
use shears_core::masks::{Scope, StepAmount};
use shears_nn::models::{ModelKind, ModelSpec, Network};
use shears_nn::optim::OptimizerConfig;
use shears_nn::prune::{self, Criterion, MaskSet};
use shears_nn::train::{Devices, cross_entropy};
use std::time::Instant;

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    /// Models to time training and inference of.
    pub models: Vec<ModelKind>,
    pub batch_size: usize,
    /// Timed iterations per repeat (after 2 warm-up iterations).
    pub iters: usize,
    pub repeats: usize,
    /// Time a global magnitude pruning step of ResNet-18.
    pub prune_step: bool,
    /// Pruned inference: CSR vs dense-masked LeNet-300-100 at 90/95/98% sparsity, and
    /// physically shrunk conv nets at 50/75% channel sparsity.
    pub pruned_inference: bool,
    /// Convolutions and max-pools on Burn's own kernels instead of shears'.
    pub burn_conv: bool,
}

/// One measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchRow {
    /// Stable key (`model/train`, `model/infer`, ...) that `bench/side-by-side.py` matches on.
    pub id: String,
    pub workload: String,
    pub value: f64,
    pub unit: &'static str,
}

impl BenchRow {
    fn new(id: impl Into<String>, workload: String, value: f64, unit: &'static str) -> Self {
        BenchRow {
            id: id.into(),
            workload,
            value,
            unit,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BenchError(String);

impl BenchError {
    fn from(e: impl std::fmt::Display) -> Self {
        BenchError(e.to_string())
    }
}

/// Threads the CPU backend uses: Burn-flex runs on rayon's global pool, which honours
/// `RAYON_NUM_THREADS`.
pub fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Runs the benchmark: per model training and inference, then the pruning step, then the
/// pruned-inference rows.
pub fn run(options: &BenchOptions, devices: &Devices) -> Result<Vec<BenchRow>, BenchError> {
    shears_nn::accel::set_fast_conv(!options.burn_conv);
    let mut rows = Vec::new();
    for &kind in &options.models {
        model_rows(options, kind, devices, &mut rows);
    }
    if options.prune_step {
        rows.push(prune_step_row(options, devices)?);
    }
    if options.pruned_inference {
        if options.models.contains(&ModelKind::LeNet300) {
            pruned::sparse_rows(options, &devices.base, &mut rows)?;
        }
        for &kind in &options.models {
            if kind != ModelKind::LeNet300 {
                pruned::shrunk_rows(options, kind, &devices.base, &mut rows)?;
            }
        }
    }
    Ok(rows)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn spec_of(kind: ModelKind) -> ModelSpec {
    let input = match kind {
        ModelKind::LeNet300 | ModelKind::LeNet5 => [1, 28, 28],
        _ => [3, 32, 32],
    };
    ModelSpec {
        kind,
        input,
        classes: 10,
        shape: None,
    }
}

/// Training (forward, backward, optimizer step) and inference throughput of one model on a
/// random batch.
fn model_rows(a: &BenchOptions, kind: ModelKind, devices: &Devices, rows: &mut Vec<BenchRow>) {
    let spec = spec_of(kind);
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
    let labels: Vec<i64> = (0..n).map(|i| (i % 10) as i64).collect();
    let y = Tensor::<1, Int>::from_ints(labels.as_slice(), &devices.train);
    let mut step = |model: Network| {
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
    rows.push(BenchRow::new(
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
    rows.push(BenchRow::new(
        format!("{kind}/infer"),
        format!("{kind} inference, batch {n}"),
        median(infer),
        "samples/s",
    ));
}

/// Seconds of one global magnitude pruning step of a random-init ResNet-18 to 90%.
fn prune_step_row(a: &BenchOptions, devices: &Devices) -> Result<BenchRow, BenchError> {
    let spec = ModelSpec {
        kind: ModelKind::ResNet18,
        input: [3, 32, 32],
        classes: 10,
        shape: None,
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
        .map_err(BenchError::from)?;
        times.push(t.elapsed().as_secs_f64());
        drop(model);
    }
    Ok(BenchRow::new(
        "resnet18/prune-step",
        format!(
            "resnet18 global magnitude prune step to 90% ({n_weights} weights; read, score, select, mask, verify)"
        ),
        median(times),
        "s",
    ))
}

//! `shears bench`: throughput of training and inference, and the cost of one pruning step.
//! A benchmark, not a test: it reports numbers (median of repeats), it asserts nothing.

use super::common::{DeviceArgs, print_json};
use anyhow::Result;
use clap::Args;
use serde::Serialize;
use shears_core::select::{Scope, StepAmount};
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
        rows.push(Row {
            id: format!("{kind}/train"),
            workload: format!("{kind} train (fwd+bwd+step), batch {n}"),
            value: median(train),
            unit: "samples/s",
        });
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
        rows.push(Row {
            id: format!("{kind}/infer"),
            workload: format!("{kind} inference, batch {n}"),
            value: median(infer),
            unit: "samples/s",
        });
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
        rows.push(Row {
            id: "resnet18/prune-step".into(),
            workload: format!("resnet18 global magnitude prune step to 90% ({n_weights} weights; read, score, select, mask, verify)"),
            value: median(times),
            unit: "s",
        });
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

//! The benchmark of `shears bench`: throughput of training and inference, and the cost of one
//! pruning step. A benchmark, not a test: it reports numbers (median of repeats), it asserts
//! nothing.
//!
//! Throughput is samples/s (images) for the classifiers and tokens/s for `gpt-tiny`, whose
//! batch is `batch_size` sequences of [`GPT_CONTEXT`] tokens. `bench/torch_bench.py` mirrors
//! every workload here.

mod epochs;
mod pruned;

use burn::prelude::*;
use burn::tensor::Distribution;
use serde::Serialize;
use shears_core::masks::{Scope, StepAmount};
use shears_nn::models::{Input, ModelKind, ModelSpec, Network};
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
    /// Pruned inference: CSR vs dense-masked LeNet-300-100 at 50-98% sparsity, and
    /// physically shrunk conv nets at 50/75% channel sparsity (the transformers have no
    /// pruned-inference rows).
    pub pruned_inference: bool,
    /// Convolutions and max-pools on Burn's own kernels instead of shears'.
    pub burn_conv: bool,
    /// Whole epochs of LeNet-300-100 on the embedded data: dense training against masked
    /// fine-tuning at 0% and 95% (when the models include `lenet300`).
    pub epochs: bool,
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
    if options.epochs && options.models.contains(&ModelKind::LeNet300) {
        epochs::epoch_rows(options, devices, &mut rows)?;
    }
    if options.prune_step {
        rows.push(prune_step_row(options, devices)?);
    }
    if options.pruned_inference {
        if options.models.contains(&ModelKind::LeNet300) {
            pruned::sparse_rows(options, &devices.base, &mut rows)?;
        }
        // No shrunk rows for the transformers: channel surgery covers the conv nets.
        for &kind in &options.models {
            if kind != ModelKind::LeNet300 && !kind.is_transformer() {
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

/// Context of `gpt-tiny` in the benchmark: tokens per sequence.
pub const GPT_CONTEXT: usize = 128;
/// Vocabulary of `gpt-tiny` in the benchmark: symbols.
pub const GPT_VOCAB: usize = 64;
/// Learning rate of the CNNs' SGD step.
const CNN_LR: f64 = 0.01;
/// The transformers' training recipe (`TrainRecipe::for_model`): AdamW at this rate with
/// this decoupled weight decay.
const TRANSFORMER_LR: f64 = 2e-3;
const TRANSFORMER_WEIGHT_DECAY: f64 = 0.05;

/// The model the benchmark times: the default shape, 10 classes on 1x28x28 (LeNets, ViT) or
/// 3x32x32 (the other CNNs); `gpt-tiny` at context [`GPT_CONTEXT`], vocabulary
/// [`GPT_VOCAB`].
pub fn spec_of(kind: ModelKind) -> ModelSpec {
    let (input, classes) = match kind {
        ModelKind::LeNet300 | ModelKind::LeNet5 | ModelKind::VitTiny => ([1, 28, 28], 10),
        ModelKind::GptTiny => ([1, 1, GPT_CONTEXT], GPT_VOCAB),
        _ => ([3, 32, 32], 10),
    };
    ModelSpec {
        kind,
        input,
        classes,
        shape: None,
    }
}

/// Trainable parameters of the benchmarked model (BatchNorm running statistics, which
/// Burn's `num_params` counts, excluded): what `torch_bench.py` counts with
/// `model.parameters()`.
pub fn trainable_params(kind: ModelKind, device: &Device) -> usize {
    let mut total = 0;
    shears_nn::params::visit_floats(&spec_of(kind).init(device), |path, p| {
        if !path.ends_with(".running_mean") && !path.ends_with(".running_var") {
            total += p.dims().iter().product::<usize>();
        }
    });
    total
}

/// The optimizer and learning rate of a training step: SGD (`OptimizerConfig::default()`)
/// for the CNNs, AdamW for the transformers (their recipe; SGD barely trains them).
fn optimizer_of(kind: ModelKind) -> (OptimizerConfig, f64, &'static str) {
    if kind.is_transformer() {
        let adamw = OptimizerConfig::adamw(TRANSFORMER_WEIGHT_DECAY);
        (adamw, TRANSFORMER_LR, "fwd+bwd+AdamW step")
    } else {
        (OptimizerConfig::default(), CNN_LR, "fwd+bwd+step")
    }
}

/// What one batch of a model is: `(units per batch, unit, description)`. The language model
/// counts tokens (`batch` sequences of `context` tokens each); the classifiers count images.
fn batch_of(spec: &ModelSpec, n: usize) -> (usize, &'static str, String) {
    if spec.kind.is_language_model() {
        let t = spec.input[2];
        (
            n * t,
            "tokens/s",
            format!("batch {n} sequences x {t} tokens"),
        )
    } else {
        (n, "samples/s", format!("batch {n}"))
    }
}

/// A random batch on `device`: images uniform in [0, 1) with labels `i % 10`, or token ids
/// uniform over the vocabulary whose targets are the next tokens (`n * context` of them).
fn random_batch(spec: &ModelSpec, n: usize, device: &Device) -> (Input, Tensor<1, Int>) {
    if spec.kind.is_language_model() {
        let (t, vocab) = (spec.input[2], spec.classes);
        let ids = Tensor::<2>::random([n, t + 1], Distribution::Uniform(0.0, vocab as f64), device)
            .int()
            .clamp(0, vocab as i64 - 1);
        let x = ids.clone().narrow(1, 0, t);
        let y = ids.narrow(1, 1, t).reshape([n * t]);
        (Input::Tokens(x), y)
    } else {
        let [c, h, w] = spec.input;
        let x = Tensor::<4>::random([n, c, h, w], Distribution::Default, device);
        let labels: Vec<i64> = (0..n).map(|i| (i % 10) as i64).collect();
        let y = Tensor::<1, Int>::from_ints(labels.as_slice(), device);
        (Input::Images(x), y)
    }
}

/// Training (forward, loss, backward, optimizer step) and inference throughput of one model
/// on a random batch.
fn model_rows(a: &BenchOptions, kind: ModelKind, devices: &Devices, rows: &mut Vec<BenchRow>) {
    let spec = spec_of(kind);
    let n = a.batch_size;
    let (per_batch, unit, batch) = batch_of(&spec, n);
    let (optim_config, lr, step_name) = optimizer_of(kind);
    devices.train.seed(0);
    let mut model = spec.init(&devices.train);
    let mut optim = optim_config.build();
    let (x, y) = random_batch(&spec, n, &devices.train);
    let mut step = |model: Network| {
        let loss = cross_entropy(model.forward(x.clone()), y.clone());
        let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
        optim.step(lr, model, grads)
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
        train.push((a.iters * per_batch) as f64 / t.elapsed().as_secs_f64());
    }
    rows.push(BenchRow::new(
        format!("{kind}/train"),
        format!("{kind} train ({step_name}), {batch}"),
        median(train),
        unit,
    ));
    let eval = model.valid();
    let (xe, _) = random_batch(&spec, n, &devices.base);
    let _ = eval.forward(xe.clone()).into_data();
    let mut infer = Vec::new();
    for _ in 0..a.repeats {
        let t = Instant::now();
        for _ in 0..a.iters {
            let _ = eval.forward(xe.clone()).into_data();
        }
        infer.push((a.iters * per_batch) as f64 / t.elapsed().as_secs_f64());
    }
    rows.push(BenchRow::new(
        format!("{kind}/infer"),
        format!("{kind} inference, {batch}"),
        median(infer),
        unit,
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

#[cfg(test)]
mod tests {
    use super::*;
    use shears_nn::models::{Gpt, LayerInfo, Vit};

    #[test]
    fn transformer_parameter_counts_follow_the_formula() {
        let device = Device::flex();
        for (kind, expected) in [(ModelKind::VitTiny, 540_170), (ModelKind::GptTiny, 826_176)] {
            let spec = spec_of(kind);
            let shape = spec.transformer();
            let other = match kind {
                ModelKind::VitTiny => Vit::other_params(shape, spec.input),
                _ => Gpt::other_params(shape, spec.input[2], spec.classes),
            };
            let layers: u64 = spec.layers().iter().map(LayerInfo::params).sum();
            assert_eq!(layers + other, expected, "{kind}");
            assert_eq!(trainable_params(kind, &device), expected as usize, "{kind}");
        }
    }

    #[test]
    fn transformers_get_train_and_infer_rows_and_no_pruned_rows() {
        let options = BenchOptions {
            models: vec![ModelKind::VitTiny, ModelKind::GptTiny],
            batch_size: 2,
            iters: 1,
            repeats: 1,
            prune_step: false,
            pruned_inference: true,
            burn_conv: false,
            epochs: true,
        };
        let rows = run(&options, &Devices::new(Device::flex())).unwrap();
        let ids: Vec<_> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "vit-tiny/train",
                "vit-tiny/infer",
                "gpt-tiny/train",
                "gpt-tiny/infer"
            ]
        );
        for r in &rows {
            assert!(r.value.is_finite() && r.value > 0.0, "{r:?}");
            let unit = if r.id.starts_with("gpt") {
                "tokens/s"
            } else {
                "samples/s"
            };
            assert_eq!(r.unit, unit, "{r:?}");
        }
        assert!(
            rows[2].workload.contains("2 sequences x 128 tokens"),
            "{rows:?}"
        );
    }

    /// The output contract of `shears bench --json`: the whole-epoch rows other tools read
    /// the fine-tuning overhead from.
    #[test]
    fn lenet300_gets_the_whole_epoch_rows() {
        let options = BenchOptions {
            models: vec![ModelKind::LeNet300],
            batch_size: 128,
            iters: 1,
            repeats: 1,
            prune_step: false,
            pruned_inference: false,
            burn_conv: false,
            epochs: true,
        };
        let rows = run(&options, &Devices::new(Device::flex())).unwrap();
        let ids: Vec<_> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "lenet300/train",
                "lenet300/infer",
                "lenet300-train-dense",
                "lenet300-finetune-dense",
                "lenet300-finetune-sparse95"
            ]
        );
        for r in &rows {
            assert!(r.value.is_finite() && r.value > 0.0, "{r:?}");
            assert_eq!(r.unit, "samples/s", "{r:?}");
        }
        assert!(rows[4].workload.contains("95%"), "{rows:?}");
        // Without the option, or without lenet300, no epoch rows.
        let none = BenchOptions {
            epochs: false,
            ..options
        };
        assert_eq!(run(&none, &Devices::new(Device::flex())).unwrap().len(), 2);
    }
}

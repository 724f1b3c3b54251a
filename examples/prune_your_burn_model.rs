//! Prune your own Burn model with shears: a model defined here (not one of shears' built-ins),
//! trained by its own plain loop, pruned iteratively to 90% sparsity with a geometric schedule,
//! patience-based fine-tuning after every step and the pruner as the mask hook.
//!
//! Run it with `cargo run --release -p shears-nn --example prune_your_burn_model`; it also runs
//! in `cargo test` (the test at the bottom checks the exact final sparsity).

use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use shears_core::masks::Scope;
use shears_core::schedule::{ScheduleKind, ScheduleSpec};
use shears_core::stopping::{EarlyStopper, Monitor};
use shears_data::DatasetId;
use shears_nn::models::Input;
use shears_nn::prune::{Criterion, Pruner};
use shears_nn::train::Prepared;
use shears_nn::train::{Classifier, Devices, cross_entropy, evaluate};

/// The user's model: any Burn `Module` works; `Classifier` only lets shears evaluate it.
#[derive(Module, Debug)]
struct TinyMlp {
    hidden: Linear,
    out: Linear,
}

impl Classifier for TinyMlp {
    fn classify(&self, x: Input) -> Tensor<2> {
        self.out
            .forward(relu(self.hidden.forward(x.images().flatten(1, 3))))
    }
}

/// The user's plain training loop; `after_step` is where a pruner keeps pruned weights at 0.
fn train_epoch(
    mut model: TinyMlp,
    data: &Prepared,
    epoch: u64,
    device: &Device,
    mut after_step: impl FnMut(TinyMlp) -> TinyMlp,
) -> TinyMlp {
    let mut optim = SgdConfig::new().init();
    let config = data.train_batches(128, 7);
    let mut batches = data.train.batches(&config, epoch).unwrap();
    while let Some(batch) = batches.next_on(device) {
        let loss = cross_entropy(model.classify(batch.input), batch.targets);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = after_step(optim.step(0.05, model, grads));
    }
    model
}

/// Trains a dense model, then prunes it to 90% in geometric steps; returns the pruner.
fn run() -> Result<(TinyMlp, Pruner), Box<dyn std::error::Error>> {
    let devices = Devices::new(Device::flex());
    let device = &devices.train;
    let splits = shears_data::load(DatasetId::FashionMnistMini, None)?;
    let data = Prepared::new(DatasetId::FashionMnistMini, splits, 0.1, 0, false)?;
    let mut model = TinyMlp {
        hidden: LinearConfig::new(784, 128).init(device),
        out: LinearConfig::new(128, 10).init(device),
    };
    model = train_epoch(model, &data, 0, device, |m| m);

    // --- shears: plan once, then prune → fine-tune with patience, step by step ---
    let schedule = ScheduleSpec::new(ScheduleKind::Geometric, 0.9)
        .with_steps(4)
        .plan()?;
    let mut pruner = Pruner::for_module(&model, &schedule, &Scope::global(), Criterion::Magnitude)?;
    let mut epoch = 1;
    while !pruner.is_done() {
        model = pruner.step(model, None)?;
        let mut stopper = EarlyStopper::new(1, 0.0, Monitor::Accuracy)?;
        for _ in 0..3 {
            model = train_epoch(model, &data, epoch, device, |m| pruner.apply(m));
            epoch += 1;
            let val = evaluate(
                &model,
                &data.val,
                "validation",
                &data.eval_batches(),
                &devices.base,
            )?;
            if stopper.observe(val.top1).is_stop() {
                break;
            }
        }
        let test = evaluate(
            &model,
            &data.test,
            "test",
            &data.eval_batches(),
            &devices.base,
        )?;
        let sparsity = pruner.verify(&model)?.sparsity;
        println!(
            "step {}: sparsity {:.2}%, test top-1 {:.2}%",
            pruner.completed(),
            100.0 * sparsity,
            100.0 * test.top1
        );
    }
    Ok((model, pruner))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run().map(|_| ())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reaches_exactly_90_percent_and_keeps_pruned_weights_at_zero() {
        let (model, pruner) = super::run().unwrap();
        // The hidden and output weights: 784·128 + 128·10 entries, floor(N · 0.9) pruned.
        let n = 784 * 128 + 128 * 10;
        let report = pruner.verify(&model).unwrap();
        assert_eq!(report.total, n);
        assert_eq!(report.pruned(), n * 9 / 10);
        assert_eq!(pruner.completed(), 4);
    }
}

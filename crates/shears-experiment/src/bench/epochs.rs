//! Whole epochs on the embedded data: a dense training epoch (as `shears train` runs it: a
//! train pass, then validation) against a fine-tuning epoch (as a pruning step runs it: masks
//! enforced after every optimizer step, validation, the best epoch kept) at 0% and 95%
//! unstructured sparsity. Nearly all of a comparison's epochs are fine-tuning epochs, so
//! what they cost beyond a dense epoch is what the regimes' cost columns pay.

use super::{BenchError, BenchOptions, BenchRow, median};
use crate::config::{FinetuneMode, FinetuneSection};
use crate::finetune::{StepLength, finetune};
use shears_core::masks::{Scope, StepAmount};
use shears_data::DatasetId;
use shears_nn::models::{ModelKind, ModelSpec, Network};
use shears_nn::prune::{self, Criterion, MaskSet};
use shears_nn::train::{Devices, LrClock, Prepared, Source, evaluate, train_epoch};
use std::time::Instant;

/// One timed workload: its row id, its description and the call to time.
type Work<'a> = (
    &'static str,
    String,
    Box<dyn FnMut() -> Result<(), BenchError> + 'a>,
);

/// The rows `lenet300-train-dense`, `lenet300-finetune-dense` and
/// `lenet300-finetune-sparse95`: training samples per second of one whole epoch each (median
/// over `a.repeats` rounds, the three interleaved within a round).
pub(super) fn epoch_rows(
    a: &BenchOptions,
    devices: &Devices,
    rows: &mut Vec<BenchRow>,
) -> Result<(), BenchError> {
    let dataset = DatasetId::FashionMnistMini;
    let source = Source::load(dataset, None).map_err(BenchError::from)?;
    let data =
        Prepared::from_source(dataset, source, 0.1, 0, false, 0).map_err(BenchError::from)?;
    let spec = ModelSpec {
        kind: ModelKind::LeNet300,
        input: data.input(),
        classes: data.classes(),
        shape: None,
    };
    devices.train.seed(0);
    let model = spec.init(&devices.train);
    let f = FinetuneSection {
        mode: FinetuneMode::Epochs,
        epochs: 1,
        batch_size: a.batch_size,
        ..crate::ExperimentConfig::for_model(ModelKind::LeNet300).finetune
    };
    let mut dense_masks = MaskSet::dense(prune::prunable(&spec, true));
    let mut sparse_masks = dense_masks.clone();
    let sparse = prune::prune_step(
        model.clone(),
        &mut sparse_masks,
        Criterion::Magnitude,
        None,
        &StepAmount::Uniform(0.95),
        &Scope::global(),
        0,
        0,
    )
    .map_err(BenchError::from)?;
    let samples = data.train.len() as f64;
    let mut work: Vec<Work<'_>> = vec![
        (
            "lenet300-train-dense",
            "dense training epoch (train pass + validation)".into(),
            Box::new(|| dense_epoch(&model, &f, &data, devices)),
        ),
        (
            "lenet300-finetune-dense",
            "fine-tuning epoch at 0% (masks enforced, validation, best kept)".into(),
            Box::new(|| tune(&model, &mut dense_masks, &f, &data, devices)),
        ),
        (
            "lenet300-finetune-sparse95",
            "fine-tuning epoch at 95% (masks enforced, validation, best kept)".into(),
            Box::new(|| tune(&sparse, &mut sparse_masks, &f, &data, devices)),
        ),
    ];
    let mut times = vec![Vec::new(); work.len()];
    for round in 0..=a.repeats {
        for ((_, _, w), t) in work.iter_mut().zip(&mut times) {
            let started = Instant::now();
            w()?;
            // Round 0 warms up (allocations, caches).
            if round > 0 {
                t.push(started.elapsed().as_secs_f64());
            }
        }
    }
    for ((id, what, _), t) in work.into_iter().zip(times) {
        rows.push(BenchRow::new(
            id,
            format!(
                "lenet300 {what}, embedded Fashion-MNIST, batch {}",
                a.batch_size
            ),
            samples / median(t),
            "samples/s",
        ));
    }
    Ok(())
}

/// One epoch as dense training runs it: a train pass without masks, then validation.
fn dense_epoch(
    model: &Network,
    f: &FinetuneSection,
    data: &Prepared,
    devices: &Devices,
) -> Result<(), BenchError> {
    let mut optim = f.optimizer.build();
    let clock = LrClock {
        base_lr: f.lr,
        policy: f.lr_policy.clone(),
        total_epochs: 1,
    };
    let batches = data.train_batches(f.batch_size, 0);
    let (m, _) = train_epoch(
        model.clone(),
        &mut optim,
        &data.train,
        &batches,
        None,
        0,
        &clock,
        devices,
        &mut (),
    )
    .map_err(BenchError::from)?;
    evaluate(
        &m,
        &data.val,
        "validation",
        &data.eval_batches(),
        &devices.base,
    )
    .map_err(BenchError::from)?;
    Ok(())
}

/// One epoch as a pruning step's fine-tuning runs it.
fn tune(
    model: &Network,
    masks: &mut MaskSet,
    f: &FinetuneSection,
    data: &Prepared,
    devices: &Devices,
) -> Result<(), BenchError> {
    finetune(
        model.clone(),
        masks,
        f,
        StepLength::Fixed(1),
        data,
        0,
        devices,
        &mut |_, _| {},
    )
    .map_err(BenchError::from)?;
    Ok(())
}

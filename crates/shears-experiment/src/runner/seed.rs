//! One seed of an experiment: the dense model (or the resumed step), then per planned step
//! prune → fine-tune → evaluate → record → commit.

use super::commit::{commit, resume};
use super::dense::dense_model;
use super::pruning::{Accounting, Pruning};
use super::{Event, RunError, check_interrupt};
use crate::config::DEFAULT_CALIBRATION_SAMPLES;
use crate::config::{ExperimentConfig, FinetuneMode};
use crate::finetune::{StepLength, Tuned, finetune};
use crate::store::RunDir;

use shears_core::budget::split_budget;
use shears_core::results::StepRow;
use shears_data::epoch_seed;
use shears_nn::metrics::Metrics;
use shears_nn::models::{Input, Network};
use shears_nn::prune::{calibration_set, gradient_stats};
use shears_nn::train::Prepared;
use shears_nn::train::{Devices, TrainError, evaluate};
use std::path::Path;
use std::time::Instant;

/// What every step of one seed shares.
pub(super) struct Seed<'a> {
    pub config: &'a ExperimentConfig,
    pub id: &'a str,
    pub repeat: usize,
    pub seed: u64,
    pub data: &'a Prepared,
    pub out: &'a Path,
    pub run: &'a RunDir,
    pub devices: &'a Devices,
}

/// Per-step shuffling seed: distinct for every (run seed, step), fixed across resumes.
fn step_seed(seed: u64, step: usize) -> u64 {
    epoch_seed(seed, 1_000_000 + step as u64)
}

/// Runs (or resumes) one seed and returns its rows, baseline first.
pub(super) fn run_seed(
    s: &Seed,
    on_event: &mut dyn FnMut(Event),
) -> Result<Vec<StepRow>, RunError> {
    let (config, seed, data, devices) = (s.config, s.seed, s.data, s.devices);
    let spec = config.model.spec(data.input(), data.classes());
    spec.validate().map_err(RunError::Invalid)?;
    let mut pruning = Pruning::new(config, &spec, seed, devices)?;
    let plan = pruning.fractions().clone();
    let budget = match config.finetune.mode {
        FinetuneMode::Budget => Some(
            split_budget(config.finetune.budget, &plan.steps, config.finetune.split)
                .map_err(|e| RunError::Invalid(format!("finetune.budget: {e}")))?,
        ),
        _ => None,
    };
    let (mut model, mut rows, done) = match resume(s.run, &spec, &mut pruning, devices)? {
        Some((model, rows, step)) => {
            on_event(Event::Resumed { seed, step });
            (model, rows, step)
        }
        None => {
            let model = dense_model(config, &spec, seed, data, s.out, devices, on_event)?;
            let base = baseline_row(s, &model, &pruning.account(&model, &spec)?)?;
            let rows = vec![base];
            commit(s, 0, &model, &pruning, &rows, &spec)?;
            (model, rows, 0)
        }
    };
    let cumulative = plan.cumulative();
    for step in done + 1..=pruning.steps() {
        check_interrupt()?;
        let t0 = Instant::now();
        let grads = match pruning.gradient_params() {
            Some(params) => {
                let batches = data.train_batches(config.finetune.batch_size, step_seed(seed, step));
                let n = config.prune.score_batches;
                Some(gradient_stats(
                    &model,
                    params,
                    &data.train,
                    &batches,
                    n,
                    devices,
                )?)
            }
            None => None,
        };
        let calibration = calibration(config, &pruning, data, step_seed(seed, step), devices)?;
        model = pruning.step(model, grads.as_ref(), calibration.as_deref())?;
        let pruned = before_finetuning(&model, data, devices)?;
        let length = StepLength::for_step(&config.finetune, step, budget.as_deref());
        let tuned = finetune(
            model,
            pruning.hook(),
            &config.finetune,
            length,
            data,
            step_seed(seed, step),
            devices,
            &mut |epoch, val| {
                let val_top1 = val.top1;
                on_event(Event::Epoch {
                    seed,
                    step,
                    epoch,
                    val_top1,
                })
            },
        )?;
        pruning.verify(&tuned.model)?;
        let test = evaluate(
            &tuned.model,
            &data.test,
            "test",
            &data.eval_batches(),
            &devices.base,
        )?;
        let a = pruning.account(&tuned.model, &spec)?;
        let prev = rows.last().expect("baseline row").clone();
        let planned = (plan.steps[step - 1], cumulative[step - 1]);
        let wall = t0.elapsed().as_secs_f64();
        let mut row = step_row(prev, step, planned, &a, &tuned, &test, wall);
        (row.pruned_test_top1, row.pruned_test_loss) = pruned.map(|m| (m.top1, m.loss)).unzip();
        row.threads = shears_nn::train::threads();
        rows.push(row);
        model = tuned.model;
        commit(s, step, &model, &pruning, &rows, &spec)?;
        // Reported once committed: a step that was shown survives a kill.
        on_event(Event::Step(Box::new(rows.last().expect("pushed").clone())));
    }
    Ok(rows)
}

/// Test metrics of the freshly pruned model, before fine-tuning: the "no fine-tuning" point
/// of every report. A pruned model whose logits are not finite has none (`None`), and the
/// run goes on: fine-tuning, not this number, decides whether it fails.
fn before_finetuning(
    model: &Network,
    data: &Prepared,
    devices: &Devices,
) -> Result<Option<Metrics>, RunError> {
    match evaluate(
        model,
        &data.test,
        "test",
        &data.eval_batches(),
        &devices.base,
    ) {
        Ok(m) => Ok(Some(m)),
        Err(TrainError::NonFinite { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The row of step `step`, continuing the cumulative columns of `prev`.
fn step_row(
    prev: StepRow,
    step: usize,
    (fraction_removed, planned_sparsity): (f64, f64),
    a: &Accounting,
    tuned: &Tuned,
    test: &Metrics,
    wall: f64,
) -> StepRow {
    StepRow {
        step,
        fraction_removed,
        planned_sparsity,
        sparsity: a.sparsity,
        model_sparsity: a.model_sparsity,
        remaining_params: a.remaining_params,
        flops_effective: a.flops_effective,
        epochs: tuned.epochs,
        cum_epochs: prev.cum_epochs + tuned.epochs,
        best_epoch: tuned.best_epoch,
        cum_train_flops: prev.cum_train_flops
            + 3.0 * a.flops_effective as f64 * tuned.samples as f64,
        wall_s: wall,
        cum_wall_s: prev.cum_wall_s + wall,
        ..metrics_row(prev, &tuned.val, test)
    }
}

fn metrics_row(prev: StepRow, val: &Metrics, test: &Metrics) -> StepRow {
    StepRow {
        val_top1: val.top1,
        val_top5: val.top5,
        val_loss: val.loss,
        test_top1: test.top1,
        test_top5: test.top5,
        test_loss: test.loss,
        ..prev
    }
}

/// Step 0: the dense model as the run starts from it.
fn baseline_row(s: &Seed, model: &Network, a: &Accounting) -> Result<StepRow, RunError> {
    let eval = s.data.eval_batches();
    let val = evaluate(model, &s.data.val, "validation", &eval, &s.devices.base)?;
    let test = evaluate(model, &s.data.test, "test", &eval, &s.devices.base)?;
    let row = StepRow {
        experiment: s.id.to_string(),
        regime: s.config.regime().to_string(),
        target: s.config.schedule.target,
        repeat: s.repeat,
        seed: s.seed,
        step: 0,
        fraction_removed: 0.0,
        planned_sparsity: 0.0,
        sparsity: a.sparsity,
        model_sparsity: a.model_sparsity,
        remaining_params: a.remaining_params,
        flops_dense: a.flops_dense,
        flops_effective: a.flops_effective,
        epochs: 0,
        cum_epochs: 0,
        best_epoch: 0,
        cum_train_flops: 0.0,
        wall_s: 0.0,
        cum_wall_s: 0.0,
        val_top1: 0.0,
        val_top5: 0.0,
        val_loss: 0.0,
        test_top1: 0.0,
        test_top5: 0.0,
        test_loss: 0.0,
        pruned_test_top1: None,
        pruned_test_loss: None,
        threads: shears_nn::train::threads(),
    };
    Ok(metrics_row(row, &val, &test))
}

/// The calibration set of a step (Wanda, SparseGPT): a seeded draw of training samples.
fn calibration(
    config: &ExperimentConfig,
    pruning: &Pruning,
    data: &Prepared,
    seed: u64,
    devices: &Devices,
) -> Result<Option<Vec<Input>>, RunError> {
    if !pruning.needs_calibration() {
        return Ok(None);
    }
    let samples = config
        .prune
        .calibration_samples
        .unwrap_or(DEFAULT_CALIBRATION_SAMPLES);
    calibration_set(
        &data.train,
        &data.normalization,
        samples,
        seed,
        &devices.base,
    )
    .map(Some)
    .map_err(RunError::Invalid)
}

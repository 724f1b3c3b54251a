//! Fine-tuning one pruning step: fixed epochs or patience, with a real copy of the best
//! epoch's weights when `carry = "best"`.

use crate::config::{Carry, FinetuneMode, FinetuneSection};
use shears_core::stopping::{BestTracker, EarlyStopper, Monitor, PatienceSchedule};
use shears_nn::metrics::Metrics;
use shears_nn::models::Network;
use shears_nn::train::Prepared;
use shears_nn::train::{AfterStep, Devices, LrClock, TrainError, evaluate, train_epoch};

/// How long step `step` (1-based) may train.
#[derive(Debug, Clone, Copy)]
pub enum StepLength {
    Fixed(usize),
    Patience { patience: usize, max_epochs: usize },
}

impl StepLength {
    pub fn for_step(f: &FinetuneSection, step: usize, budget: Option<&[usize]>) -> Self {
        match f.mode {
            FinetuneMode::Epochs => StepLength::Fixed(f.epochs),
            FinetuneMode::Budget => StepLength::Fixed(budget.map_or(f.epochs, |b| b[step - 1])),
            FinetuneMode::Patience => StepLength::Patience {
                patience: PatienceSchedule::new(f.patience.clone())
                    .map(|p| p.for_step(step - 1))
                    .unwrap_or(0),
                max_epochs: f.max_epochs,
            },
        }
    }
}

/// Result of fine-tuning one step.
pub struct Tuned {
    pub model: Network,
    pub epochs: usize,
    /// 1-based epoch whose weights were carried (0 if no epoch ran).
    pub best_epoch: usize,
    /// Validation metrics of the carried weights.
    pub val: Metrics,
    pub samples: u64,
}

/// Fine-tunes `model` for one step. `seed` seeds this step's shuffling (derived from the run
/// seed and the step index, so a resumed run sees the same batches).
#[allow(clippy::too_many_arguments)]
pub fn finetune(
    mut model: Network,
    hook: &mut dyn AfterStep<Network>,
    f: &FinetuneSection,
    length: StepLength,
    data: &Prepared,
    seed: u64,
    devices: &Devices,
    on_epoch: &mut dyn FnMut(usize, &Metrics),
) -> Result<Tuned, TrainError> {
    let (cap, mut stopper) = match length {
        StepLength::Fixed(n) => (n, None),
        StepLength::Patience {
            patience,
            max_epochs,
        } => (
            max_epochs,
            Some(
                EarlyStopper::new(patience, f.min_delta, f.monitor)
                    .map_err(|e| TrainError::Invalid(e.to_string()))?,
            ),
        ),
    };
    let mut optim = f.optimizer.build();
    let clock = LrClock {
        base_lr: f.lr,
        policy: f.lr_policy.clone(),
        total_epochs: cap.max(1),
    };
    let batches = data.train_batches(f.batch_size, seed);
    let eval = data.eval_batches();
    let mut tracker = BestTracker::new(f.monitor);
    let mut best: Option<(Network, usize, Metrics)> = None;
    let mut last: Option<Metrics> = None;
    let (mut epochs, mut samples) = (0, 0u64);
    for epoch in 0..cap {
        let (m, stats) = train_epoch(
            model,
            &mut optim,
            &data.train,
            &batches,
            f.batches_per_epoch,
            epoch,
            &clock,
            devices,
            hook,
        )?;
        model = m;
        epochs += 1;
        samples += stats.samples;
        let val = evaluate(&model, &data.val, "validation", &eval, &devices.base)?;
        on_epoch(epoch + 1, &val);
        let value = match f.monitor {
            Monitor::Accuracy => val.top1,
            Monitor::Loss => val.loss,
        };
        if f.carry == Carry::Best && tracker.observe(value) {
            // Burn tensors are immutable values: this clone is a real snapshot, unlike the
            // reference's state_dict() that aliased the live weights.
            best = Some((model.clone(), epoch + 1, val));
        }
        last = Some(val);
        if let Some(s) = stopper.as_mut()
            && s.observe(value).is_stop()
        {
            break;
        }
    }
    let (model, best_epoch, val) = match (f.carry, best) {
        (Carry::Best, Some((m, e, v))) => (m, e, v),
        _ => {
            let val = match last {
                Some(v) => v,
                None => evaluate(&model, &data.val, "validation", &eval, &devices.base)?,
            };
            (model, epochs, val)
        }
    };
    Ok(Tuned {
        model,
        epochs,
        best_epoch,
        val,
        samples,
    })
}

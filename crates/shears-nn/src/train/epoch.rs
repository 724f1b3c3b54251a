//! One training epoch: shuffled batches, an optimizer step per batch, and the after-step hook
//! where pruning keeps pruned weights at zero.

use super::{Devices, Split, TrainError, cross_entropy};
use crate::models::Network;
use burn::optim::{GradientsParams, ModuleOptimizer};
use shears_core::lr::LrPolicy;
use shears_data::BatchConfig;
use std::time::Instant;

/// What one epoch of training did.
#[derive(Debug, Clone, Copy)]
pub struct EpochStats {
    /// Mean of per-batch mean losses, weighted by batch size (= per-sample mean).
    pub train_loss: f64,
    pub samples: u64,
    pub seconds: f64,
}

/// Per-iteration learning rate for one epoch of a run of `total_epochs`.
#[derive(Debug, Clone)]
pub struct LrClock {
    pub base_lr: f64,
    pub policy: LrPolicy,
    pub total_epochs: usize,
}

impl LrClock {
    pub fn lr(&self, epoch: usize, iter: usize, iters_per_epoch: usize) -> f64 {
        self.policy.lr_at(
            self.base_lr,
            epoch,
            iter,
            iters_per_epoch,
            self.total_epochs,
        )
    }
}

/// Hook called after every optimizer step; pruning uses it to keep pruned weights at zero.
pub trait AfterStep<M> {
    fn after_step(&mut self, model: M) -> M;
}

impl<M> AfterStep<M> for () {
    fn after_step(&mut self, model: M) -> M {
        model
    }
}

/// Trains one epoch. `epoch` is 0-based and seeds the shuffle, so resuming at any epoch
/// replays exactly the batches an uninterrupted run would have seen. With `max_batches` the
/// "epoch" is the first that many batches of the epoch's order: a validation period, as the
/// reference's language-model code counts fine-tuning.
#[allow(clippy::too_many_arguments)]
pub fn train_epoch(
    mut model: Network,
    optim: &mut ModuleOptimizer,
    data: &Split,
    config: &BatchConfig,
    max_batches: Option<usize>,
    epoch: usize,
    lr: &LrClock,
    devices: &Devices,
    hook: &mut dyn AfterStep<Network>,
) -> Result<(Network, EpochStats), TrainError> {
    let start = Instant::now();
    let mut batches = data.batches(config, epoch as u64)?;
    let iters = max_batches.map_or(batches.len(), |m| m.min(batches.len()));
    let (mut loss_sum, mut samples) = (0.0f64, 0u64);
    let mut i = 0;
    while i < iters
        && let Some(batch) = batches.next_on(&devices.train)
    {
        if crate::interrupt::requested() {
            return Err(TrainError::Interrupted);
        }
        let n = batch.samples;
        let loss = cross_entropy(model.forward(batch.input), batch.targets);
        let value = loss.clone().into_scalar::<f32>();
        if !value.is_finite() {
            return Err(TrainError::Diverged {
                epoch,
                batch: i,
                loss: value,
            });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr.lr(epoch, i, iters), model, grads);
        model = hook.after_step(model);
        loss_sum += value as f64 * n as f64;
        samples += n as u64;
        i += 1;
    }
    Ok((
        model,
        EpochStats {
            train_loss: loss_sum / samples.max(1) as f64,
            samples,
            seconds: start.elapsed().as_secs_f64(),
        },
    ))
}

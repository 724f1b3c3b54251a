//! Training and evaluation loops.
//!
//! Kept deliberately plain (no Learner): pruning needs to interleave its own steps — rebuild
//! the optimizer, re-apply masks, stop on patience — between epochs, and every epoch's cost
//! must be counted.

use crate::metrics::{MetricSums, Metrics};
use crate::models::Network;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use shears_core::lr::LrPolicy;
use shears_data::{Batch, BatchConfig, Batches, DataError, Dataset};
use std::time::Instant;

/// Failures of a training run that the caller must see rather than a silently bad model.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(
        "training diverged: loss is {loss} at epoch {epoch}, batch {batch} (lower the learning rate?)"
    )]
    Diverged {
        epoch: usize,
        batch: usize,
        loss: f32,
    },
    /// A stop was requested ([`crate::interrupt`]); nothing of the unfinished epoch is kept.
    #[error("interrupted")]
    Interrupted,
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{0}")]
    Invalid(String),
}

/// The two devices a run uses: plain for evaluation, autodiff for training.
#[derive(Clone, Debug)]
pub struct Devices {
    pub base: Device,
    pub train: Device,
}

impl Devices {
    pub fn new(base: Device) -> Self {
        let train = base.clone().autodiff();
        Self { base, train }
    }
}

/// Moves one host batch onto `device`.
pub fn to_tensors(batch: &Batch, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let images = Tensor::<1>::from_floats(batch.images.as_slice(), device).reshape(batch.shape());
    let labels = Tensor::<1, Int>::from_ints(batch.labels.as_slice(), device);
    (images, labels)
}

/// Mean cross-entropy of a batch, as `torch.nn.CrossEntropyLoss` computes it.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let [n, _] = logits.dims();
    let picked = log_softmax(logits, 1).gather(1, labels.reshape([n, 1]));
    picked.mean().neg()
}

/// An image classifier: what [`evaluate`] needs of a model. shears' own [`Network`] is one;
/// implement it for your Burn model to evaluate it the same way.
pub trait Classifier: Module {
    /// Logits `[batch, classes]` of images `[batch, channels, height, width]`.
    fn classify(&self, images: Tensor<4>) -> Tensor<2>;
}

impl Classifier for Network {
    fn classify(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

/// Evaluates `model` (moved to validation mode here) on a whole dataset, in order: exact
/// per-sample top-1/top-5 and loss.
pub fn evaluate<M: Classifier>(
    model: &M,
    data: &Dataset,
    config: &BatchConfig,
    device: &Device,
) -> Result<Metrics, TrainError> {
    let model = model.valid();
    let mut sums = MetricSums::default();
    let classes = data.num_classes;
    let mut batches = Batches::new(data, config, 0)?;
    let mut batch = Batch::default();
    while batches.next_into(&mut batch) {
        let (x, _) = to_tensors(&batch, device);
        let logits = model.classify(x).into_data();
        let logits = logits
            .as_slice::<f32>()
            .map_err(|e| TrainError::Invalid(format!("logits are not f32: {e:?}")))?;
        sums.add(logits, &batch.labels, classes);
    }
    Ok(sums.finish())
}

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
/// replays exactly the batches an uninterrupted run would have seen.
#[allow(clippy::too_many_arguments)]
pub fn train_epoch(
    mut model: Network,
    optim: &mut ModuleOptimizer,
    data: &Dataset,
    config: &BatchConfig,
    epoch: usize,
    lr: &LrClock,
    devices: &Devices,
    hook: &mut dyn AfterStep<Network>,
) -> Result<(Network, EpochStats), TrainError> {
    let start = Instant::now();
    let mut batches = Batches::new(data, config, epoch as u64)?;
    let iters = batches.len();
    let mut batch = Batch::default();
    let (mut loss_sum, mut samples) = (0.0f64, 0u64);
    let mut i = 0;
    while batches.next_into(&mut batch) {
        if crate::interrupt::requested() {
            return Err(TrainError::Interrupted);
        }
        let (x, y) = to_tensors(&batch, &devices.train);
        let loss = cross_entropy(model.forward(x), y);
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
        loss_sum += value as f64 * batch.n as f64;
        samples += batch.n as u64;
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

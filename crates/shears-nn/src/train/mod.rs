//! Training and evaluation: the epoch loop with its after-step hook ([`epoch`]), a whole dense
//! training run from a recipe ([`dense`]), and here what both share — devices, batches as
//! tensors, the loss, and exact evaluation of any [`Classifier`].
//!
//! Kept deliberately plain (no Learner): pruning needs to interleave its own steps — rebuild
//! the optimizer, re-apply masks, stop on patience — between epochs, and every epoch's cost
//! must be counted.

pub mod dense;
pub mod epoch;

pub use dense::{EpochRecord, FitReport, MAX_EPOCHS, Prepared, TrainRecipe, fit, seeded_init};
pub use epoch::{AfterStep, EpochStats, LrClock, train_epoch};

use crate::metrics::{MetricSums, Metrics};
use crate::models::Network;
use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use shears_data::{Batch, BatchConfig, Batches, DataError, Dataset};

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
    /// Logits with a NaN or an infinity: NaN compares as "not larger" than anything, so such
    /// a sample would count as correct (an all-NaN model scored top-1 1.0). Never scored.
    #[error(
        "non-finite logits on the {split} split (sample {sample} of {n}): the model's weights or activations overflowed; a non-finite output is never scored"
    )]
    NonFinite { split: String, sample: u64, n: u64 },
    /// Data that cannot give a meaningful result: an empty split, a split too small for its
    /// validation fraction or batch size.
    #[error("{0}")]
    DegenerateData(String),
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
/// per-sample top-1/top-5 and loss. `split` names the data in errors ("test"): an empty
/// split or a non-finite logit is an error, never a score.
pub fn evaluate<M: Classifier>(
    model: &M,
    data: &Dataset,
    split: &str,
    config: &BatchConfig,
    device: &Device,
) -> Result<Metrics, TrainError> {
    if data.is_empty() {
        return Err(TrainError::DegenerateData(format!(
            "the {split} split has 0 images: there is nothing to evaluate"
        )));
    }
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
        let seen = sums.n;
        sums.add(logits, &batch.labels, classes)
            .map_err(|row| TrainError::NonFinite {
                split: split.to_string(),
                sample: seen + row as u64,
                n: data.len() as u64,
            })?;
    }
    Ok(sums.finish())
}

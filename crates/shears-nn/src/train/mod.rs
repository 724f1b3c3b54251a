//! Training and evaluation: the epoch loop with its after-step hook ([`epoch`]), a whole dense
//! training run from a recipe ([`dense`]), and here what both share — devices, batches as
//! tensors, the loss, and exact evaluation of any [`Classifier`].
//!
//! Kept deliberately plain (no Learner): pruning needs to interleave its own steps — rebuild
//! the optimizer, re-apply masks, stop on patience — between epochs, and every epoch's cost
//! must be counted.

pub mod dense;
pub mod epoch;
mod split;

pub use dense::{
    EpochRecord, FitReport, MAX_EPOCHS, Prepared, Source, TrainRecipe, fit, seeded_init,
};
pub use epoch::{AfterStep, EpochStats, LrClock, train_epoch};
pub use shears_kernels::threads;
pub use split::{DeviceBatch, Split, SplitBatches};

use crate::metrics::{MetricSums, Metrics};
use crate::models::{Input, Network};
use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use shears_data::{Batch, BatchConfig, DataError};

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

/// A classifier: what [`evaluate`] needs of a model. shears' own [`Network`] is one;
/// implement it for your Burn model to evaluate it the same way. A language model is a
/// classifier of the next token (one logit row per position, see [`Split`]).
pub trait Classifier: Module {
    /// Logits `[rows, classes]`: one row per image, or per token position.
    fn classify(&self, x: Input) -> Tensor<2>;
}

impl Classifier for Network {
    fn classify(&self, x: Input) -> Tensor<2> {
        self.forward(x)
    }
}

/// Evaluates `model` (moved to validation mode here) on a whole split, in order: exact
/// per-sample (per-token for text) top-1/top-5 and loss. `split` names the data in errors
/// ("test"): an empty split or a non-finite logit is an error, never a score.
pub fn evaluate<M: Classifier>(
    model: &M,
    data: &Split,
    split: &str,
    config: &BatchConfig,
    device: &Device,
) -> Result<Metrics, TrainError> {
    evaluate_with(model, data, split, config, device, &mut |_, _| Ok(()))
}

/// Receives a label and its logit row; an error stops the evaluation.
pub type EachRow<'a> = dyn FnMut(i64, &[f32]) -> Result<(), String> + 'a;

/// [`evaluate`], handing each logit row with its label to `each`, in the split's order (for a
/// language model, one row per predicted token). An error from `each` stops the evaluation.
pub fn evaluate_with<M: Classifier>(
    model: &M,
    data: &Split,
    split: &str,
    config: &BatchConfig,
    device: &Device,
    each: &mut EachRow,
) -> Result<Metrics, TrainError> {
    if data.is_empty() {
        return Err(TrainError::DegenerateData(format!(
            "the {split} split has 0 {}: there is nothing to evaluate",
            data.unit()
        )));
    }
    let model = model.valid();
    let mut sums = MetricSums::default();
    let mut batches = data.batches(config, 0)?;
    while let Some(b) = batches.next_on(device) {
        let logits = model.classify(b.input);
        let [rows, classes] = logits.dims();
        let logits = logits.into_data();
        let logits = logits
            .as_slice::<f32>()
            .map_err(|e| TrainError::Invalid(format!("logits are not f32: {e:?}")))?;
        if rows != b.labels.len() {
            return Err(TrainError::Invalid(format!(
                "the model gave {rows} rows of logits for {} labels",
                b.labels.len()
            )));
        }
        let seen = sums.n;
        sums.add(logits, b.labels, classes)
            .map_err(|row| TrainError::NonFinite {
                split: split.to_string(),
                sample: seen + row as u64,
                n: data.len() as u64,
            })?;
        for (row, &label) in logits.chunks_exact(classes.max(1)).zip(b.labels) {
            each(label, row).map_err(TrainError::Invalid)?;
        }
    }
    Ok(sums.finish())
}

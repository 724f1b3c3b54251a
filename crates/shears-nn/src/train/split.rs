//! One split of a run's data, whatever the task: labelled images for classifiers, or token
//! windows of a corpus for language models. Training, evaluation, gradient scoring and
//! calibration read batches through [`Split::batches`], so every one of them works for both.
//!
//! A language model is treated as a classifier of the next token: its batch is `n` windows
//! of `T` tokens, its logits have one row per position (`n·T` rows) and its labels are the
//! following tokens. Loss and metrics are then per token (top-1 = next-token accuracy, loss
//! = cross-entropy in nats, perplexity = e^loss) with no special case downstream.

use crate::models::Input;
use burn::prelude::*;
use shears_data::text::{TokenBatch, TokenBatches, Windows};
use shears_data::{Batch, BatchConfig, Batches, DataError, Dataset};

/// The samples of one split.
#[derive(Debug, Clone)]
pub enum Split {
    Images(Dataset),
    Text(Windows),
}

impl Split {
    /// Samples: images, or windows of `T + 1` tokens.
    pub fn len(&self) -> usize {
        match self {
            Split::Images(d) => d.len(),
            Split::Text(w) => w.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What one sample is called in messages.
    pub fn unit(&self) -> &'static str {
        match self {
            Split::Images(_) => "images",
            Split::Text(_) => "windows",
        }
    }

    /// The batches of one epoch. `config`'s batch size, shuffling and seed apply to both
    /// kinds; normalization and augmentation only to images.
    pub fn batches(&self, config: &BatchConfig, epoch: u64) -> Result<SplitBatches<'_>, DataError> {
        Ok(SplitBatches(match self {
            Split::Images(d) => {
                Inner::Images(Box::new(Batches::new(d, config, epoch)?), Batch::default())
            }
            Split::Text(w) => {
                let shuffle = config.shuffle.then_some(config.seed);
                let it = TokenBatches::new(w, config.batch_size, shuffle, epoch)?;
                Inner::Text(it, TokenBatch::default())
            }
        }))
    }
}

/// One batch on a device: the model's input, the targets as a tensor and on the host.
pub struct DeviceBatch<'a> {
    pub input: Input,
    pub targets: Tensor<1, Int>,
    /// One label per logit row (per image, or per token position).
    pub labels: &'a [i64],
    /// Samples in the batch (images or windows), the unit of compute accounting.
    pub samples: usize,
}

/// Iterator over one epoch of a [`Split`].
pub struct SplitBatches<'a>(Inner<'a>);

// Boxed: the image iterator carries its per-epoch lookup tables inline.
enum Inner<'a> {
    Images(Box<Batches<'a>>, Batch),
    Text(TokenBatches<'a>, TokenBatch),
}

impl SplitBatches<'_> {
    /// Batches in this epoch.
    pub fn len(&self) -> usize {
        match &self.0 {
            Inner::Images(it, _) => it.len(),
            Inner::Text(it, _) => it.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next batch moved onto `device`, or `None` at the end of the epoch.
    pub fn next_on(&mut self, device: &Device) -> Option<DeviceBatch<'_>> {
        match &mut self.0 {
            Inner::Images(it, batch) => {
                if !it.next_into(batch) {
                    return None;
                }
                let (x, y) = super::to_tensors(batch, device);
                Some(DeviceBatch {
                    input: Input::Images(x),
                    targets: y,
                    labels: &batch.labels,
                    samples: batch.n,
                })
            }
            Inner::Text(it, batch) => {
                if !it.next_into(batch) {
                    return None;
                }
                let shape = [batch.n, batch.len];
                let x = Tensor::<1, Int>::from_ints(batch.inputs.as_slice(), device).reshape(shape);
                let y = Tensor::<1, Int>::from_ints(batch.targets.as_slice(), device);
                Some(DeviceBatch {
                    input: Input::Tokens(x),
                    targets: y,
                    labels: &batch.targets,
                    samples: batch.n,
                })
            }
        }
    }
}

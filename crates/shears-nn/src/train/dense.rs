//! Dense training: a recipe, prepared data splits, and the epoch loop that turns them into a
//! trained model with its per-epoch history.

use super::{Devices, EpochStats, LrClock, Split, TrainError, evaluate, train_epoch};
use crate::metrics::Metrics;
use crate::models::{ModelKind, ModelSpec, Network};
use crate::optim::OptimizerConfig;
use serde::{Deserialize, Serialize};
use shears_core::lr::{LrPolicy, LrSchedule, Warmup};
use shears_data::text::{TextCorpus, Vocab, Windows};
use shears_data::{
    Augment, BatchConfig, DEFAULT_VALIDATION_FRACTION, DataError, DatasetId, FolderRead,
    Normalization, Splits, split_validation,
};
use std::path::Path;

/// Most epochs any training or fine-tuning count may ask for: far beyond any real recipe, and
/// a bound that catches a mistyped count before it runs for years.
pub const MAX_EPOCHS: usize = 100_000;

/// How to train a dense model. The default decays the learning rate (cosine): a dense
/// baseline trained at a constant rate is artificially weak against pruned models that are
/// fine-tuned further.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainRecipe {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub lr_policy: LrPolicy,
    pub optimizer: OptimizerConfig,
    /// Seeds initialisation, the validation split, shuffling and augmentation.
    pub seed: u64,
    /// Random crop + flip (for CIFAR-like data; off by default for grayscale digits/clothes).
    pub augment: bool,
    pub val_fraction: f64,
}

impl Default for TrainRecipe {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 128,
            lr: 0.05,
            lr_policy: LrPolicy {
                schedule: LrSchedule::Cosine { min_lr: 0.0 },
                warmup: None,
            },
            optimizer: OptimizerConfig::default(),
            seed: 0,
            augment: false,
            val_fraction: DEFAULT_VALIDATION_FRACTION,
        }
    }
}

impl TrainRecipe {
    /// The default recipe for `kind`: SGD with cosine decay for the CNNs (the paper's); for
    /// the transformers AdamW (decoupled weight decay 0.05) with one epoch of linear warm-up
    /// then cosine decay, the usual recipe of small ViTs and GPTs (SGD barely trains them).
    pub fn for_model(kind: ModelKind) -> Self {
        let adamw = |lr: f64, epochs: usize, batch_size: usize| Self {
            epochs,
            batch_size,
            lr,
            lr_policy: LrPolicy {
                schedule: LrSchedule::Cosine { min_lr: lr / 20.0 },
                warmup: Some(Warmup {
                    epochs: 1,
                    start_factor: 0.1,
                }),
            },
            optimizer: OptimizerConfig::adamw(0.05),
            ..Self::default()
        };
        match kind {
            ModelKind::VitTiny => adamw(2e-3, 20, 128),
            ModelKind::GptTiny => adamw(2e-3, 8, 32),
            _ => Self::default(),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_EPOCHS).contains(&self.epochs) {
            return Err(format!(
                "train.epochs = {} must be in 1..={MAX_EPOCHS}",
                self.epochs
            ));
        }
        if self.batch_size == 0 {
            return Err("train.batch_size must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!("train.lr = {} must be a positive number", self.lr));
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return Err(format!(
                "train.val_fraction = {} must be in [0, 1)",
                self.val_fraction
            ));
        }
        self.optimizer.validate()?;
        self.lr_policy.validate().map_err(|e| e.to_string())
    }
}

/// A dataset as read from disk, before it is split and batched: images or a corpus.
#[derive(Debug, Clone)]
pub enum Source {
    Images(Splits),
    Text(TextCorpus),
}

impl Source {
    /// Reads `dataset` (from `dir` when given); the error names the file or the dataset. An
    /// image folder's images become squares of [`shears_data::DEFAULT_IMAGE_SIZE`].
    pub fn load(dataset: DatasetId, dir: Option<&Path>) -> Result<Self, DataError> {
        Self::load_with(dataset, dir, FolderRead::default())
    }

    /// [`Source::load`] with an image folder read as `folder` says: its images brought to
    /// squares of a model's input side or a configured size, undecodable files skipped (and
    /// listed in `Splits::skipped`) or refused. The other datasets ignore it.
    pub fn load_with(
        dataset: DatasetId,
        dir: Option<&Path>,
        folder: FolderRead,
    ) -> Result<Self, DataError> {
        Ok(match (dataset, dir) {
            (DatasetId::Folder, Some(dir)) => {
                let options = shears_data::FolderOptions {
                    size: folder.size.unwrap_or(shears_data::DEFAULT_IMAGE_SIZE),
                    skip_corrupt: folder.skip_corrupt,
                };
                Source::Images(shears_data::load_folder(dir, &options)?.splits)
            }
            _ if dataset.is_text() => Source::Text(shears_data::load_corpus(dataset, dir)?),
            _ => Source::Images(shears_data::load(dataset, dir)?),
        })
    }
}

/// Train / validation / test sets ready for batching. For images, validation is carved from
/// the training set (never the test set, which the reference used for early stopping); a
/// corpus comes with its own validation text.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub dataset: DatasetId,
    pub train: Split,
    pub val: Split,
    pub test: Split,
    pub normalization: Normalization,
    pub augment: Option<Augment>,
    /// The corpus' vocabulary (text only): what the model's classes mean.
    pub vocab: Option<Vocab>,
}

impl Prepared {
    pub fn new(
        dataset: DatasetId,
        splits: Splits,
        val_fraction: f64,
        seed: u64,
        augment: bool,
    ) -> Result<Self, TrainError> {
        let degenerate = |m: String| Err(TrainError::DegenerateData(format!("{dataset}: {m}")));
        let n = splits.train.len();
        if n == 0 {
            return degenerate("0 training images: there is nothing to train on".into());
        }
        if splits.test.is_empty() {
            return degenerate("0 test images: there is nothing to evaluate".into());
        }
        let (train, val) = split_validation(&splits.train, val_fraction, seed)?;
        if val_fraction > 0.0 && val.is_empty() {
            return degenerate(format!(
                "the validation split would hold 0 of {n} training images (fraction {val_fraction}, \
                 rounded per class); use more data or a larger fraction"
            ));
        }
        if train.is_empty() {
            return degenerate(format!(
                "the validation fraction {val_fraction} leaves 0 of {n} training images to train on"
            ));
        }
        Ok(Self {
            dataset,
            train: Split::Images(train),
            val: Split::Images(val),
            test: Split::Images(splits.test),
            normalization: splits
                .normalization
                .unwrap_or_else(|| dataset.normalization()),
            augment: augment.then(|| dataset.default_augment().unwrap_or_else(Augment::cifar)),
            vocab: None,
        })
    }

    /// Splits `source`: images as [`Prepared::new`] does, a corpus as [`Prepared::text`]
    /// into windows of `context` tokens (ignored for images).
    pub fn from_source(
        dataset: DatasetId,
        source: Source,
        val_fraction: f64,
        seed: u64,
        augment: bool,
        context: usize,
    ) -> Result<Self, TrainError> {
        match source {
            Source::Images(splits) => Self::new(dataset, splits, val_fraction, seed, augment),
            Source::Text(corpus) => Self::text(dataset, corpus, context),
        }
    }

    /// [`Prepared::from_source`] for evaluating or pruning a trained model: a corpus is
    /// encoded with the model's vocabulary `vocab` (its token ids are the model's classes), so
    /// characters it never saw become the unknown id instead of shifting every id.
    pub fn for_model(
        dataset: DatasetId,
        source: Source,
        val_fraction: f64,
        seed: u64,
        spec: &ModelSpec,
        vocab: Option<&Vocab>,
    ) -> Result<Self, TrainError> {
        let source = match (source, vocab) {
            (Source::Text(corpus), Some(v)) => Source::Text(corpus.reencoded(v)),
            (source, _) => source,
        };
        Self::from_source(dataset, source, val_fraction, seed, false, spec.input[2])
    }

    /// A corpus cut into windows of `context` tokens (plus the one each position predicts).
    /// Every split must hold at least one window; the error names the split.
    pub fn text(
        dataset: DatasetId,
        corpus: TextCorpus,
        context: usize,
    ) -> Result<Self, TrainError> {
        let windows = |tokens: Vec<u16>, split: &str| {
            Windows::new(tokens, context).map_err(|e| {
                TrainError::DegenerateData(format!("{} ({split} split): {e}", corpus.name))
            })
        };
        Ok(Self {
            dataset,
            train: Split::Text(windows(corpus.train.clone(), "training")?),
            val: Split::Text(windows(corpus.valid.clone(), "validation")?),
            test: Split::Text(windows(corpus.test.clone(), "test")?),
            normalization: dataset.normalization(),
            augment: None,
            vocab: Some(corpus.vocab),
        })
    }

    /// Refuses a training split smaller than one batch of `batch_size` (`key`, when not
    /// empty, names the setting): every epoch would be one partial batch, not the recipe that
    /// was asked for.
    pub fn check_batch(&self, batch_size: usize, key: &str) -> Result<(), TrainError> {
        let n = self.train.len();
        if n < batch_size {
            let key = if key.is_empty() {
                String::new()
            } else {
                format!(" ({key})")
            };
            return Err(TrainError::DegenerateData(format!(
                "{}: the training split has {n} {}, fewer than the batch size \
                 {batch_size}{key}; lower the batch size or use more data",
                self.dataset,
                self.train.unit()
            )));
        }
        Ok(())
    }

    /// Checks that a model of `spec` takes this data's images and classes (before anything
    /// runs: a mismatch would otherwise be a shape panic deep inside Burn).
    pub fn check_model(&self, spec: &ModelSpec) -> Result<(), String> {
        let text = self.vocab.is_some();
        if spec.kind.is_language_model() != text {
            return Err(if text {
                format!(
                    "{} reads images, but '{}' is a text corpus: use gpt-tiny (or an image dataset)",
                    spec.kind, self.dataset
                )
            } else {
                format!(
                    "{} is a language model, but '{}' is images: use --data kjv-mini or \
                     --data text --data-dir PATH",
                    spec.kind, self.dataset
                )
            });
        }
        if self.input() != spec.input || self.classes() != spec.classes {
            return Err(format!(
                "model expects {:?} inputs and {} classes, dataset '{}' has {:?} and {}",
                spec.input,
                spec.classes,
                self.dataset,
                self.input(),
                self.classes()
            ));
        }
        Ok(())
    }

    /// `[channels, height, width]` of an image, or `[1, 1, context]` for text.
    pub fn input(&self) -> [usize; 3] {
        match &self.train {
            Split::Images(d) => d.sample_shape(),
            Split::Text(w) => [1, 1, w.context()],
        }
    }

    /// Classes, or the vocabulary size for text.
    pub fn classes(&self) -> usize {
        match (&self.train, &self.vocab) {
            (Split::Images(d), _) => d.num_classes,
            (Split::Text(_), Some(v)) => v.len(),
            (Split::Text(_), None) => 0,
        }
    }

    pub fn train_batches(&self, batch_size: usize, seed: u64) -> BatchConfig {
        BatchConfig::train(batch_size, seed, self.normalization.clone(), self.augment)
    }

    pub fn eval_batches(&self) -> BatchConfig {
        // Text windows cost `context` positions each (and attention their square).
        let size = match self.train {
            Split::Images(_) => 1000,
            Split::Text(_) => 64,
        };
        BatchConfig::eval(size, self.normalization.clone())
    }
}

/// One epoch of history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub val: Metrics,
    pub seconds: f64,
}

/// Outcome of [`fit`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FitReport {
    pub history: Vec<EpochRecord>,
    pub test: Metrics,
    pub epochs: usize,
    pub seconds: f64,
}

/// Trains a fresh model of `spec` with `recipe`, calling `on_epoch` after every epoch.
/// The device RNG is process-wide: seeding and drawing the initial weights happen under one
/// lock, so parallel jobs (`--jobs N`) cannot interleave and each model gets its own seed's
/// weights.
pub fn seeded_init(spec: &ModelSpec, seed: u64, device: &crate::Device) -> Network {
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    spec.init(device)
}

pub fn fit(
    spec: &ModelSpec,
    data: &Prepared,
    recipe: &TrainRecipe,
    devices: &Devices,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<(Network, FitReport), TrainError> {
    recipe.validate().map_err(TrainError::Invalid)?;
    spec.validate().map_err(TrainError::Invalid)?;
    data.check_model(spec).map_err(TrainError::Invalid)?;
    data.check_batch(recipe.batch_size, "")?;
    if data.val.is_empty() {
        return Err(TrainError::DegenerateData(
            "the validation split is empty (val_fraction 0): training reports validation \
             metrics every epoch"
                .into(),
        ));
    }
    let mut model = seeded_init(spec, recipe.seed, &devices.train);
    let mut optim = recipe.optimizer.build();
    let clock = LrClock {
        base_lr: recipe.lr,
        policy: recipe.lr_policy.clone(),
        total_epochs: recipe.epochs,
    };
    let batches = data.train_batches(recipe.batch_size, recipe.seed);
    let eval = data.eval_batches();
    // Grown per epoch, never sized from the requested count.
    let mut history = Vec::new();
    let mut seconds = 0.0;
    for epoch in 0..recipe.epochs {
        let (
            m,
            EpochStats {
                train_loss,
                seconds: s,
                ..
            },
        ) = train_epoch(
            model,
            &mut optim,
            &data.train,
            &batches,
            None,
            epoch,
            &clock,
            devices,
            &mut (),
        )?;
        model = m;
        seconds += s;
        let val = evaluate(&model, &data.val, "validation", &eval, &devices.base)?;
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss,
            val,
            seconds: s,
        };
        on_epoch(&record);
        history.push(record);
    }
    let test = evaluate(&model, &data.test, "test", &eval, &devices.base)?;
    Ok((
        model,
        FitReport {
            history,
            test,
            epochs: recipe.epochs,
            seconds,
        },
    ))
}

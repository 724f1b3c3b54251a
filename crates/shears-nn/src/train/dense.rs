//! Dense training: a recipe, prepared data splits, and the epoch loop that turns them into a
//! trained model with its per-epoch history.

use super::{Devices, EpochStats, LrClock, TrainError, evaluate, train_epoch};
use crate::metrics::Metrics;
use crate::models::{ModelSpec, Network};
use crate::optim::OptimizerConfig;
use serde::{Deserialize, Serialize};
use shears_core::lr::{LrPolicy, LrSchedule};
use shears_data::{
    Augment, BatchConfig, DEFAULT_VALIDATION_FRACTION, Dataset, DatasetId, Normalization, Splits,
    split_validation,
};

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

/// Train / validation / test sets ready for batching; validation is carved from the training
/// set (never the test set, which the reference used for early stopping).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub dataset: DatasetId,
    pub train: Dataset,
    pub val: Dataset,
    pub test: Dataset,
    pub normalization: Normalization,
    pub augment: Option<Augment>,
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
            train,
            val,
            test: splits.test,
            normalization: dataset.normalization(),
            augment: augment.then(|| dataset.default_augment().unwrap_or_else(Augment::cifar)),
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
                "{}: the training split has {n} images, fewer than the batch size \
                 {batch_size}{key}; lower the batch size or use more data",
                self.dataset
            )));
        }
        Ok(())
    }

    /// Checks that a model of `spec` takes this data's images and classes (before anything
    /// runs: a mismatch would otherwise be a shape panic deep inside Burn).
    pub fn check_model(&self, spec: &ModelSpec) -> Result<(), String> {
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

    pub fn input(&self) -> [usize; 3] {
        self.train.sample_shape()
    }

    pub fn classes(&self) -> usize {
        self.train.num_classes
    }

    pub fn train_batches(&self, batch_size: usize, seed: u64) -> BatchConfig {
        BatchConfig::train(batch_size, seed, self.normalization.clone(), self.augment)
    }

    pub fn eval_batches(&self) -> BatchConfig {
        BatchConfig::eval(1000, self.normalization.clone())
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

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
        if self.epochs == 0 {
            return Err("train.epochs must be at least 1".into());
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
        let (train, val) = split_validation(&splits.train, val_fraction, seed)?;
        Ok(Self {
            dataset,
            train,
            val,
            test: splits.test,
            normalization: dataset.normalization(),
            augment: augment.then(|| dataset.default_augment().unwrap_or_else(Augment::cifar)),
        })
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
    let mut model = seeded_init(spec, recipe.seed, &devices.train);
    let mut optim = recipe.optimizer.build();
    let clock = LrClock {
        base_lr: recipe.lr,
        policy: recipe.lr_policy.clone(),
        total_epochs: recipe.epochs,
    };
    let batches = data.train_batches(recipe.batch_size, recipe.seed);
    let eval = data.eval_batches();
    let mut history = Vec::with_capacity(recipe.epochs);
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
        let val = evaluate(&model, &data.val, &eval, &devices.base)?;
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss,
            val,
            seconds: s,
        };
        on_epoch(&record);
        history.push(record);
    }
    let test = evaluate(&model, &data.test, &eval, &devices.base)?;
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

//! Experiment configuration: a TOML file with every field defaulted and documented, dotted
//! command-line overrides (`-s finetune.patience=10`), validation that names the key, and the
//! canonical form whose hash names the run.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shears_core::budget::SplitPolicy;
use shears_core::lr::LrPolicy;
use shears_core::masks::{Pattern, PatternPath, ScopeKind};
use shears_core::schedule::{Compat, ManualSchedule, ScheduleKind, ScheduleSpec};
use shears_core::stopping::Monitor;
use shears_data::DatasetId;
use shears_nn::models::{ModelKind, ModelSpec, TransformerShape};
use shears_nn::optim::OptimizerConfig;
use shears_nn::prune::Criterion;
use shears_nn::structured::SizeMeasure;
use shears_nn::train::TrainRecipe;
use std::path::PathBuf;
use validate::{dense_error, schedule_error};

mod keys;
mod overrides;
mod validate;

pub use overrides::parse_override;
use overrides::{apply_overrides, blame_override, file_settings};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {detail}")]
    Read { path: PathBuf, detail: String },
    #[error("override '{0}': expected key=value (e.g. finetune.patience=10)")]
    OverrideSyntax(String),
    #[error("override '{key}': {detail}")]
    Override { key: String, detail: String },
    #[error("{0}")]
    Invalid(String),
}

/// One experiment: a dense model, a pruning schedule and how each step is fine-tuned,
/// repeated over `seeds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExperimentConfig {
    /// Seeds to repeat the experiment with; each seed has its own dense model, shared by every
    /// experiment using the same model, data, dense recipe and seed (so comparisons are paired).
    pub seeds: Vec<u64>,
    pub model: ModelSection,
    pub data: DataSection,
    pub dense: DenseSection,
    pub prune: PruneSection,
    pub schedule: ScheduleSpec,
    pub finetune: FinetuneSection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSection {
    /// lenet300, lenet5, lenet-cifar, vgg11, resnet20, resnet18, vit-tiny, gpt-tiny.
    pub kind: ModelKind,
    /// Transformers only: blocks, token width, attention heads, MLP hidden width as a
    /// multiple of the width, and (gpt-tiny) the context in tokens. Unset = the kind's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heads: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mlp_ratio: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<usize>,
}

impl ModelSection {
    /// The transformer shape the settings ask for (`None`: the kind's default).
    pub fn shape(&self) -> Option<TransformerShape> {
        let set = [self.depth, self.width, self.heads, self.mlp_ratio];
        if set.iter().all(Option::is_none) {
            return None;
        }
        let d = self.kind.default_shape();
        Some(TransformerShape {
            depth: self.depth.unwrap_or(d.depth),
            width: self.width.unwrap_or(d.width),
            heads: self.heads.unwrap_or(d.heads),
            mlp_ratio: self.mlp_ratio.unwrap_or(d.mlp_ratio),
        })
    }

    /// The language model's context in tokens: the length of its text windows.
    pub fn context(&self) -> usize {
        self.context.unwrap_or(self.kind.default_context())
    }

    /// The spec of this model for data of `input` and `classes`.
    pub fn spec(&self, input: [usize; 3], classes: usize) -> ModelSpec {
        ModelSpec {
            kind: self.kind,
            input,
            classes,
            shape: self.shape(),
        }
    }

    /// The spec before any data is read: for a corpus the context and (unknown until read) a
    /// vocabulary of [`PLANNING_VOCAB`] symbols, enough to count prunable tensors and plan disk.
    pub fn planning_spec(&self, dataset: DatasetId) -> ModelSpec {
        if dataset.is_text() {
            self.spec([1, 1, self.context()], PLANNING_VOCAB)
        } else {
            // A folder: colour, ten classes until its files are read (enough to count tensors).
            self.spec(dataset.sample_shape(), dataset.num_classes().max(10))
        }
    }
}

/// Vocabulary size assumed before a corpus is read (the embedded corpus has 63 symbols).
pub const PLANNING_VOCAB: usize = 128;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSection {
    /// fashion-mnist-mini (embedded), fashion-mnist, mnist, cifar10, cifar100, kjv-mini,
    /// text, folder.
    pub dataset: DatasetId,
    /// Directory of the dataset files; empty = auto-detect.
    pub dir: String,
    /// Fraction of the training set held out for validation (early stopping, best epoch).
    pub val_fraction: f64,
    /// `folder` only: its images' side (default 32); not written when unset (ids unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_size: Option<usize>,
    /// `folder` only: leave out files that do not decode (counted, warned about) instead of
    /// stopping at the first; not written when off.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skip_corrupt: bool,
}

impl DataSection {
    /// How the runs read an image folder.
    pub fn folder_read(&self) -> shears_data::FolderRead {
        shears_data::FolderRead {
            size: self.image_size,
            skip_corrupt: self.skip_corrupt,
        }
    }
}

/// The dense model: trained with `recipe`, or loaded from `checkpoint`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DenseSection {
    /// Start from this shears checkpoint or PyTorch state dict instead of training (empty = train).
    pub checkpoint: String,
    pub epochs: usize,
    pub lr: f64,
    pub batch_size: usize,
    pub lr_policy: LrPolicy,
    pub optimizer: OptimizerConfig,
    /// Random crop + flip; default follows the dataset (on for CIFAR).
    pub augment: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PruneSection {
    /// magnitude, random, taylor, hessian, wanda, sparsegpt.
    pub criterion: Criterion,
    /// global (one threshold over all tensors) or layer-wise (same fraction per tensor).
    pub scope: ScopeKind,
    /// Global scope: keep at least this fraction of every tensor (0 = the reference).
    pub min_density: f64,
    /// Prune Conv/Linear biases too (the reference does).
    pub include_bias: bool,
    /// Training batches the taylor/hessian criteria accumulate gradients over at each step.
    pub score_batches: usize,
    /// Layers to prune (paths as `shears inspect` prints them, or prefixes ending in `*`);
    /// empty = every Conv/Linear layer (the reference's default, classifier included).
    pub include: Vec<String>,
    /// Layers never to prune, e.g. `["fc3"]` to keep the classifier dense.
    pub exclude: Vec<String>,
    /// Remove whole channels/neurons (group L2 norm, residual-coupled channels together) and
    /// fine-tune the physically smaller network; schedule values then count `target_measure`.
    /// `false`: unstructured weight pruning.
    pub structured: bool,
    /// Structured pruning: what the schedule's fractions count — `params` (the default),
    /// `flops`, or `channels` (each group's own channels, so regimes may end at different
    /// sizes). Written only when set: unstructured targets already count weights.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_measure: Option<SizeMeasure>,
    /// Manual per-layer schedule (the reference's `ManualStepScheduler`): step `i` removes
    /// `per_layer[i][l]` of prunable tensor `l`'s original entries (tensors in `shears inspect`
    /// order, after include/exclude); a one-value list applies to every tensor. Replaces the
    /// schedule's steps (results are labelled regime "manual", `schedule.target` names the
    /// cell) and needs `scope = "layer-wise"`. Empty = use `[schedule]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_layer: Vec<Vec<f64>>,
    /// N:M semi-structured pattern of the weights (`"2:4"`: at most 2 kept in every 4
    /// consecutive inputs of an output row), reached at the schedule's target, which must be
    /// its sparsity (M − N)/M. Needs the layer-wise scope. Written only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Pattern>,
    /// Wanda/SparseGPT: calibration samples per step (seeded draw; default 128); written if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration_samples: Option<usize>,
    /// Wanda compares weights within each output row (`true`, its defining choice); `false`:
    /// under `scope` like any criterion (docs/design.md#rows-and-nm). Written only when false.
    #[serde(skip_serializing_if = "std::clone::Clone::clone")]
    pub wanda_rows: bool,
    /// How an iterative schedule reaches `pattern`: `feasible` (default: every step inside it)
    /// or `project` (docs/design.md#rows-and-nm). Written only when not the default.
    #[serde(skip_serializing_if = "PatternPath::is_feasible")]
    pub pattern_path: PatternPath,
}

/// Calibration samples of Wanda/SparseGPT when `prune.calibration_samples` is not set.
pub const DEFAULT_CALIBRATION_SAMPLES: usize = 128;

/// How each step is fine-tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinetuneMode {
    /// `epochs` epochs at every step.
    Epochs,
    /// Until the monitored validation metric has not improved by more than `min_delta` for
    /// `patience[min(i, len-1)]` epochs, at most `max_epochs` per step.
    Patience,
    /// `budget` epochs in total, split across steps (`split`): equal compute for every regime.
    Budget,
}

/// Which weights a step hands to the next: the best validation epoch's (a real copy; the
/// reference aliased them and silently kept the last) or the last epoch's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Carry {
    Best,
    Last,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneSection {
    pub mode: FinetuneMode,
    /// Epochs per step in `epochs` mode.
    pub epochs: usize,
    /// Patience per step (step i uses element min(i, len-1)); a hybrid gives its first step a
    /// long patience and the rest a short one. A single number means the same for every step.
    #[serde(deserialize_with = "one_or_many")]
    pub patience: Vec<usize>,
    pub min_delta: f64,
    /// accuracy (validation top-1, maximised) or loss (validation loss, minimised).
    pub monitor: Monitor,
    /// Epoch cap per step in `patience` mode.
    pub max_epochs: usize,
    /// Total fine-tuning epochs in `budget` mode.
    pub budget: usize,
    /// even or proportional (to the fraction removed) budget split.
    pub split: SplitPolicy,
    pub carry: Carry,
    pub lr: f64,
    pub batch_size: usize,
    /// An "epoch" of fine-tuning is at most this many batches (then validation): a period,
    /// as the reference's language-model code validates every few batches. Unset = the
    /// whole training split. Epoch counts and budgets then count periods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batches_per_epoch: Option<usize>,
    /// Constant by default (the reference); schedulable per step.
    pub lr_policy: LrPolicy,
    /// Rebuilt at every step (momentum reset), as in the reference.
    pub optimizer: OptimizerConfig,
}

impl ExperimentConfig {
    /// The defaults for `kind`: the CNNs share [`ExperimentConfig::default`] (the paper's
    /// recipe); a transformer trains and fine-tunes with AdamW ([`TrainRecipe::for_model`],
    /// fine-tuning at a quarter of the peak rate), and the language model defaults to the
    /// embedded corpus and keeps the epoch of lowest validation loss (= perplexity), as the
    /// reference's language-model code does. A config file or override that names the model
    /// gets these as its defaults.
    pub fn for_model(kind: ModelKind) -> Self {
        let mut c = Self::default();
        c.model.kind = kind;
        if !kind.is_transformer() {
            return c;
        }
        let r = TrainRecipe::for_model(kind);
        c.finetune.optimizer = r.optimizer.clone();
        c.finetune.lr = r.lr / 4.0;
        c.finetune.batch_size = r.batch_size;
        c.dense = DenseSection {
            epochs: r.epochs,
            lr: r.lr,
            batch_size: r.batch_size,
            lr_policy: r.lr_policy,
            optimizer: r.optimizer,
            ..DenseSection::default()
        };
        if kind.is_language_model() {
            c.data.dataset = DatasetId::KjvMini;
            c.finetune.monitor = Monitor::Loss;
        }
        c
    }
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        Self {
            seeds: vec![0],
            model: ModelSection::default(),
            data: DataSection::default(),
            dense: DenseSection::default(),
            prune: PruneSection::default(),
            schedule: ScheduleSpec::new(ScheduleKind::OneShot, 0.8),
            finetune: FinetuneSection::default(),
        }
    }
}

impl Default for ModelSection {
    fn default() -> Self {
        Self {
            kind: ModelKind::LeNet300,
            depth: None,
            width: None,
            heads: None,
            mlp_ratio: None,
            context: None,
        }
    }
}

impl Default for DataSection {
    fn default() -> Self {
        Self {
            dataset: DatasetId::FashionMnistMini,
            dir: String::new(),
            val_fraction: shears_data::DEFAULT_VALIDATION_FRACTION,
            image_size: None,
            skip_corrupt: false,
        }
    }
}

impl Default for DenseSection {
    fn default() -> Self {
        let r = TrainRecipe::default();
        Self {
            checkpoint: String::new(),
            epochs: r.epochs,
            lr: r.lr,
            batch_size: r.batch_size,
            lr_policy: r.lr_policy,
            optimizer: r.optimizer,
            augment: None,
        }
    }
}

impl Default for PruneSection {
    fn default() -> Self {
        Self {
            criterion: Criterion::Magnitude,
            scope: ScopeKind::Global,
            min_density: 0.0,
            include_bias: true,
            score_batches: 10,
            include: Vec::new(),
            exclude: Vec::new(),
            structured: false,
            target_measure: None,
            per_layer: Vec::new(),
            pattern: None,
            calibration_samples: None,
            wanda_rows: true,
            pattern_path: PatternPath::Feasible,
        }
    }
}

impl Default for FinetuneSection {
    fn default() -> Self {
        Self {
            mode: FinetuneMode::Patience,
            epochs: 5,
            patience: vec![3],
            min_delta: 0.0,
            monitor: Monitor::Accuracy,
            max_epochs: 30,
            budget: 20,
            split: SplitPolicy::Even,
            carry: Carry::Best,
            lr: 0.01,
            batch_size: 128,
            batches_per_epoch: None,
            lr_policy: LrPolicy::default(),
            optimizer: OptimizerConfig::default(),
        }
    }
}

/// Accepts `3` as well as `[20, 2]`.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(usize),
        Many(Vec<usize>),
    }
    match OneOrMany::deserialize(d) {
        Ok(OneOrMany::One(v)) => Ok(vec![v]),
        Ok(OneOrMany::Many(v)) => Ok(v),
        Err(_) => Err(serde::de::Error::custom(
            "expected a non-negative integer or a list of them",
        )),
    }
}

impl ExperimentConfig {
    /// Reads a TOML file, applies overrides in order, and validates.
    pub fn load(path: Option<&std::path::Path>, overrides: &[String]) -> Result<Self, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|e| ConfigError::Read {
                path: p.to_path_buf(),
                detail: e.to_string(),
            })?,
            None => String::new(),
        };
        let name = path
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "<defaults>".into());
        Self::from_toml(&text, &name, overrides)
    }

    pub fn from_toml(text: &str, name: &str, overrides: &[String]) -> Result<Self, ConfigError> {
        let config = Self::resolve(text, name, overrides)?;
        config
            .validate()
            .map_err(|e| blame_override(e, overrides))?;
        Ok(config)
    }

    /// Reads TOML text and applies overrides in order, without the range checks of
    /// [`Self::validate`] (for a caller that sets more fields before validating). An unknown
    /// key or a value of the wrong type is blamed on the override that set it, if one did.
    pub fn resolve(text: &str, name: &str, overrides: &[String]) -> Result<Self, ConfigError> {
        let file: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Read {
            path: name.into(),
            detail: e.to_string(),
        })?;
        let parsed = overrides
            .iter()
            .map(|o| parse_override(o))
            .collect::<Result<Vec<_>, _>>()?;
        let mut settings = Vec::new();
        file_settings(&file, "", &mut settings);
        settings.extend(parsed.iter().cloned());
        // The defaults follow the model the settings name (the last setting wins, as below).
        let kind = settings
            .iter()
            .rev()
            .find(|(k, _)| k == "model.kind")
            .and_then(|(_, v)| v.as_str()?.parse::<ModelKind>().ok())
            .unwrap_or(ModelSection::default().kind);
        let defaults: toml::Table =
            toml::from_str(&Self::for_model(kind).to_toml()).expect("the defaults parse");
        let mut table = toml::Table::new();
        // TOML gives a file's keys a consistent structure: only an override can meet a value
        // where it expects a section, so that error names the override.
        apply_overrides(&mut table, &defaults, &settings)?;
        // Sections nothing set come from the model's defaults, not the struct's.
        for (k, v) in &defaults {
            table.entry(k.clone()).or_insert_with(|| v.clone());
        }
        serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| keys::value_error(&e, name, overrides, &parsed, &defaults))
    }

    /// Range checks, each naming its key (config/validate.rs).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_seeds_and_data()?;
        self.schedule.validate().map_err(schedule_error)?;
        self.schedule.plan().map_err(schedule_error)?;
        self.validate_prune()?;
        self.validate_finetune()?;
        self.dense_recipe(0)
            .validate()
            .map_err(|e| ConfigError::Invalid(dense_error(&e)))?;
        Ok(())
    }

    /// The dense training recipe for one seed.
    pub fn dense_recipe(&self, seed: u64) -> TrainRecipe {
        TrainRecipe {
            epochs: self.dense.epochs,
            batch_size: self.dense.batch_size,
            lr: self.dense.lr,
            lr_policy: self.dense.lr_policy.clone(),
            optimizer: self.dense.optimizer.clone(),
            seed,
            augment: self
                .dense
                .augment
                .unwrap_or_else(|| self.data.dataset.default_augment().is_some()),
            val_fraction: self.data.val_fraction,
        }
    }

    /// Parses a stored `config.toml` without validating it (a listing must show any
    /// experiment, including one whose seeds are recorded elsewhere).
    pub fn parse_stored(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The resolved config as TOML (every default written out).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }

    /// What a structured schedule's fractions count (`None` when unstructured).
    pub fn target_measure(&self) -> Option<SizeMeasure> {
        self.prune
            .structured
            .then(|| self.prune.target_measure.unwrap_or(SizeMeasure::Params))
    }

    /// The config as ids see it: `dense.augment` written as the dataset's default is the same
    /// experiment (and dense model) as leaving it out. A structured config carries its resolved
    /// target measure, so a run stored before the measure existed (channels, without the key)
    /// is never reused under the new default.
    fn canonical(&self) -> Self {
        let mut c = self.clone();
        if c.dense.augment == Some(c.data.dataset.default_augment().is_some()) {
            c.dense.augment = None;
        }
        c.prune.target_measure = self.target_measure();
        c
    }

    /// Experiment id: a hash of the resolved config without the seed list, so two spellings
    /// of the same experiment are one run and adding seeds reuses the finished ones.
    pub fn id(&self) -> String {
        let mut c = self.canonical();
        c.seeds.clear();
        short_hash(&serde_json::to_string(&c).expect("config serialises"))
    }

    /// Key of the dense model of `seed`: model, data and dense recipe (or checkpoint path).
    pub fn dense_key(&self, seed: u64) -> String {
        let c = self.canonical();
        let key = serde_json::json!({
            "model": c.model, "data": c.data, "dense": c.dense, "seed": seed,
        });
        short_hash(&key.to_string())
    }

    /// Regime name used in results (the schedule kind, or "manual").
    pub fn regime(&self) -> &'static str {
        if self.prune.per_layer.is_empty() {
            self.schedule.kind.name()
        } else {
            "manual"
        }
    }

    /// Number of pruning steps: the manual schedule's, else the planned schedule's.
    pub fn steps(&self) -> Result<usize, ConfigError> {
        match self.manual() {
            Some(m) => Ok(m.len()),
            None => Ok(self.schedule.plan().map_err(schedule_error)?.len()),
        }
    }

    /// The manual per-layer schedule, if one is set.
    pub fn manual(&self) -> Option<ManualSchedule> {
        (!self.prune.per_layer.is_empty())
            .then(|| ManualSchedule::new(self.prune.per_layer.clone()))
    }

    pub fn compat(&self) -> Compat {
        self.schedule.compat
    }
}

/// First 16 hex digits of SHA-256.
pub fn short_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

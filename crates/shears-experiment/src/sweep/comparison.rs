//! The built-in comparison of `shears compare`: one model, dataset and criterion, the
//! built-in regimes at several targets, repeated over seeds, as a [`SweepConfig`].

use super::regime::Regime;
use super::{Recipe, Seeds, SweepConfig};
use shears_core::masks::Pattern;
use shears_data::DatasetId;
use shears_nn::models::ModelKind;
use shears_nn::prune::Criterion;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The default comparison's targets, recorded in every report.
pub const DEFAULT_TARGETS: [f64; 6] = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98];
/// The default comparison's seeds.
pub const DEFAULT_SEEDS: [u64; 3] = [0, 1, 2];

/// The settings of a built-in comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub model: ModelKind,
    pub data: DatasetId,
    /// Directory of the dataset files (`None`: auto-detect).
    pub data_dir: Option<PathBuf>,
    /// An image folder's image side (`data.image_size`).
    pub image_size: Option<usize>,
    pub criterion: Criterion,
    /// N:M semi-structured pattern of the weights (any criterion; layer-wise counts).
    pub pattern: Option<Pattern>,
    /// Remove whole channels instead of single weights.
    pub structured: bool,
    /// Equal-compute mode: every regime gets this many fine-tuning epochs in total.
    pub budget: Option<usize>,
    pub regimes: Vec<Regime>,
    pub targets: Vec<f64>,
    pub seeds: Seeds,
    /// Most seeds per target with [`Seeds::Auto`] (`None`: the default).
    pub max_seeds: Option<usize>,
}

/// The language model's default targets: the paper's range for it.
pub const LANGUAGE_TARGETS: [f64; 3] = [0.1, 0.3, 0.5];
/// The vision transformer's default targets.
pub const VIT_TARGETS: [f64; 3] = [0.5, 0.8, 0.9];

impl Comparison {
    /// The built-in comparison of `model`: for the CNNs the default grid; for the
    /// transformers their data, targets and the three regimes the paper's transformer
    /// findings are about (one-shot, geometric, hybrid), sized to fit this machine.
    pub fn for_model(model: ModelKind) -> Self {
        let base = Self {
            model,
            ..Self::default()
        };
        match model {
            ModelKind::GptTiny => Self {
                data: DatasetId::KjvMini,
                targets: LANGUAGE_TARGETS.to_vec(),
                regimes: TRANSFORMER_REGIMES.to_vec(),
                ..base
            },
            ModelKind::VitTiny => Self {
                targets: VIT_TARGETS.to_vec(),
                regimes: TRANSFORMER_REGIMES.to_vec(),
                ..base
            },
            _ => base,
        }
    }
}

const TRANSFORMER_REGIMES: [Regime; 3] = [Regime::OneShot, Regime::Geometric, Regime::Hybrid];

/// The transformers' grid settings: a smaller shape than the kind's default (2 blocks of
/// width 64), a short dense recipe, and fine-tuning in periods of a few batches with at most
/// 3 (gpt-tiny) or 4 (vit-tiny) per step, so one comparison takes minutes, not hours, on
/// 2 CPU cores (docs/results/README.md records the measured times).
fn transformer_grid(model: ModelKind) -> Vec<(&'static str, &'static str, toml::Value)> {
    let mut keys = vec![("model", "width", 64.into()), ("model", "depth", 2.into())];
    if model.is_language_model() {
        keys.extend([
            ("model", "context", 64.into()),
            ("dense", "epochs", 2.into()),
            ("finetune", "batch_size", 16.into()),
            ("finetune", "batches_per_epoch", 50.into()),
            ("finetune", "max_epochs", 3.into()),
        ]);
    } else {
        keys.extend([
            ("dense", "epochs", 10.into()),
            ("finetune", "batches_per_epoch", 20.into()),
            ("finetune", "max_epochs", 4.into()),
        ]);
    }
    keys
}

impl Default for Comparison {
    fn default() -> Self {
        Self {
            model: ModelKind::LeNet300,
            data: DatasetId::FashionMnistMini,
            data_dir: None,
            image_size: None,
            criterion: Criterion::Magnitude,
            pattern: None,
            structured: false,
            budget: None,
            regimes: Regime::ALL.to_vec(),
            targets: DEFAULT_TARGETS.to_vec(),
            seeds: Seeds::List(DEFAULT_SEEDS.to_vec()),
            max_seeds: None,
        }
    }
}

/// Fine-tuning epochs per step at most, and the fine-tuning learning rate, of the built-in
/// grid: scaled to finish in minutes on 2 CPU cores.
const MAX_EPOCHS: i64 = 20;
const FINETUNE_LR: f64 = 0.01;

impl Comparison {
    /// The grid: a base experiment with this comparison's settings, each regime's typed
    /// recipe, the targets and the seeds.
    pub fn sweep(&self) -> SweepConfig {
        let mut base = toml::Table::new();
        let mut set = |section: &str, key: &str, v: toml::Value| {
            base.entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .expect("a section")
                .insert(key.to_string(), v);
        };
        set("model", "kind", self.model.name().into());
        set("data", "dataset", self.data.name().into());
        if let Some(d) = &self.data_dir {
            set("data", "dir", d.display().to_string().into());
        }
        if let Some(s) = self.image_size {
            set("data", "image_size", (s as i64).into());
        }
        set("prune", "criterion", self.criterion.name().into());
        // Wanda, SparseGPT and N:M patterns choose within each output row: per-layer counts.
        if self.criterion.needs_calibration() || self.pattern.is_some() {
            set("prune", "scope", "layer-wise".into());
        }
        if let Some(p) = self.pattern {
            set("prune", "pattern", p.to_string().into());
        }
        // The transformers keep their own AdamW rate (ExperimentConfig::for_model).
        if self.model.is_transformer() {
            for (section, key, v) in transformer_grid(self.model) {
                set(section, key, v);
            }
        } else {
            set("finetune", "max_epochs", MAX_EPOCHS.into());
            set("finetune", "lr", FINETUNE_LR.into());
        }
        if let Some(b) = self.budget {
            set("finetune", "mode", "budget".into());
            set("finetune", "budget", (b as i64).into());
        }
        if self.structured {
            set("prune", "structured", true.into());
        }
        let regimes: BTreeMap<String, Recipe> = self
            .regimes
            .iter()
            .map(|r| (r.name().to_string(), Recipe::Typed(r.recipe())))
            .collect();
        SweepConfig {
            base,
            regimes,
            targets: self.targets.clone(),
            seeds: self.seeds.clone(),
            max_seeds: self.max_seeds,
            seeds_by_target: Vec::new(),
            grid: BTreeMap::new(),
        }
    }
}

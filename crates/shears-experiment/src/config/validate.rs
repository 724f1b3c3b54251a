//! Range checks of an experiment config, one function per section; every message starts with
//! the dotted key it is about (which is how an override that set it gets the blame).

use super::{ConfigError, ExperimentConfig, FinetuneMode};
use shears_core::masks::ScopeKind;
use shears_core::schedule::{ManualSchedule, ScheduleError};
use shears_data::DatasetId;
use shears_nn::prune::Criterion;

fn bad(m: String) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid(m))
}

impl ExperimentConfig {
    pub(super) fn validate_seeds_and_data(&self) -> Result<(), ConfigError> {
        if self.seeds.is_empty() {
            return bad("seeds: the seed list is empty".into());
        }
        let mut sorted = self.seeds.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != self.seeds.len() {
            return bad(format!("seeds: {:?} repeats a seed", self.seeds));
        }
        if !(0.0..1.0).contains(&self.data.val_fraction) || self.data.val_fraction == 0.0 {
            return bad(format!(
                "data.val_fraction = {} must be in (0, 1)",
                self.data.val_fraction
            ));
        }
        let folder = self.data.dataset == DatasetId::Folder;
        if self.data.skip_corrupt && !folder {
            return bad("data.skip_corrupt: only for dataset \"folder\"".into());
        }
        match self.data.image_size {
            Some(_) if !folder => {
                return bad(format!(
                    "data.image_size: only for dataset \"folder\" ({} has images of its own size)",
                    self.data.dataset
                ));
            }
            Some(s) if !(1..=1024).contains(&s) => {
                return bad(format!("data.image_size = {s} must be in 1..=1024"));
            }
            _ => {}
        }
        self.validate_model()?;
        self.validate_period()
    }

    /// A period of zero batches would never train.
    fn validate_period(&self) -> Result<(), ConfigError> {
        if self.finetune.batches_per_epoch == Some(0) {
            return bad(
                "finetune.batches_per_epoch must be at least 1 (or unset: whole epochs)".into(),
            );
        }
        Ok(())
    }

    /// Shape keys only where they mean something, a buildable shape, and data the model reads.
    fn validate_model(&self) -> Result<(), ConfigError> {
        let m = &self.model;
        let set = [
            ("depth", m.depth),
            ("width", m.width),
            ("heads", m.heads),
            ("mlp_ratio", m.mlp_ratio),
            ("context", m.context),
        ];
        if let Some((key, _)) = set.iter().find(|(_, v)| v.is_some()) {
            if !m.kind.is_transformer() {
                return bad(format!(
                    "model.{key}: {} is not a transformer; the shape keys apply to vit-tiny and gpt-tiny",
                    m.kind
                ));
            }
            if *key == "context" && !m.kind.is_language_model() {
                return bad(format!(
                    "model.context: {} reads images; the context is gpt-tiny's",
                    m.kind
                ));
            }
        }
        if let Some(shape) = m.shape() {
            shape
                .validate()
                .map_err(|e| ConfigError::Invalid(format!("model: {e}")))?;
        }
        if m.context == Some(0) {
            return bad("model.context must be at least 1 token".into());
        }
        if m.kind.is_language_model() != self.data.dataset.is_text() {
            return bad(format!(
                "data.dataset: {} {} but '{}' is {}",
                m.kind,
                if m.kind.is_language_model() {
                    "is a language model"
                } else {
                    "reads images"
                },
                self.data.dataset,
                if self.data.dataset.is_text() {
                    "a text corpus"
                } else {
                    "images"
                }
            ));
        }
        Ok(())
    }

    pub(super) fn validate_prune(&self) -> Result<(), ConfigError> {
        if !(0.0..1.0).contains(&self.prune.min_density) {
            return bad(format!(
                "prune.min_density = {} must be in [0, 1)",
                self.prune.min_density
            ));
        }
        if self.prune.structured
            && !(self.prune.include.is_empty() && self.prune.exclude.is_empty())
        {
            return bad("prune.include / prune.exclude: not supported with structured pruning (channel groups span layers)".into());
        }
        if !self.prune.structured && self.prune.target_measure.is_some() {
            return bad("prune.target_measure: applies to structured pruning only (prune.structured = true); unstructured targets already count weights".into());
        }
        if self.prune.structured && self.prune.criterion != Criterion::Magnitude {
            return bad(format!(
                "prune.criterion = \"{}\": structured pruning scores channel groups by their L2 norm (criterion \"magnitude\") only",
                self.prune.criterion
            ));
        }
        if !self.prune.per_layer.is_empty() {
            if self.prune.structured {
                return bad(
                    "prune.per_layer: manual per-layer schedules are for unstructured pruning only"
                        .into(),
                );
            }
            if self.prune.scope != ScopeKind::LayerWise {
                return bad("prune.per_layer: a per-layer schedule fixes each tensor's amount; set prune.scope = \"layer-wise\"".into());
            }
            // Lengths are checked against the model's prunable tensors before the run starts.
            let manual = ManualSchedule::new(self.prune.per_layer.clone());
            let widest = self.prune.per_layer.iter().map(Vec::len).max().unwrap_or(1);
            if let Err(e) = manual.validate(widest)
                && !matches!(e, ScheduleError::ManualLength { .. })
            {
                return bad(format!("prune.per_layer: {e}"));
            }
        }
        if !self.prune.wanda_rows && !self.prune.criterion.may_leave_rows(self.prune.pattern) {
            return bad(format!(
                "prune.wanda_rows = false is an option of criterion \"wanda\" without a pattern (criterion is \"{}\"{})",
                self.prune.criterion,
                self.prune
                    .pattern
                    .map(|p| format!(", pattern \"{p}\""))
                    .unwrap_or_default()
            ));
        }
        let rows = (self.prune.criterion).in_rows(self.prune.wanda_rows, self.prune.pattern);
        if rows && self.prune.structured {
            return bad(format!(
                "prune.criterion = \"{}\" / prune.pattern: unstructured only (structured pruning removes whole channels)",
                self.prune.criterion
            ));
        }
        if rows && self.prune.scope != ScopeKind::LayerWise {
            return bad(format!(
                "{} chooses within each output row, which needs a count per layer: set prune.scope = \"layer-wise\"",
                match self.prune.pattern {
                    Some(p) => format!("prune.pattern = \"{p}\""),
                    None => format!("prune.criterion = \"{}\"", self.prune.criterion),
                }
            ));
        }
        if let Some(p) = self.prune.pattern
            && (self.schedule.target - p.sparsity()).abs() > 1e-9
        {
            return bad(format!(
                "prune.pattern = \"{p}\" prunes exactly {} of the weights, but schedule.target = {}: set schedule.target = {}",
                p.sparsity(),
                self.schedule.target,
                p.sparsity()
            ));
        }
        if !self.prune.pattern_path.is_feasible() && self.prune.pattern.is_none() {
            return bad("prune.pattern_path = \"project\" needs prune.pattern".into());
        }
        if self.prune.calibration_samples == Some(0) {
            return bad("prune.calibration_samples must be at least 1".into());
        }
        if self.prune.criterion.needs_gradients() && self.prune.score_batches == 0 {
            return bad("prune.score_batches must be at least 1 for taylor/hessian".into());
        }
        Ok(())
    }

    pub(super) fn validate_finetune(&self) -> Result<(), ConfigError> {
        let f = &self.finetune;
        match f.mode {
            FinetuneMode::Epochs if f.epochs == 0 => {
                return bad("finetune.epochs must be at least 1 in epochs mode".into());
            }
            FinetuneMode::Patience if f.max_epochs == 0 => {
                return bad("finetune.max_epochs must be at least 1".into());
            }
            FinetuneMode::Budget if f.budget == 0 => {
                return bad("finetune.budget must be at least 1".into());
            }
            _ => {}
        }
        for (key, n) in [
            ("finetune.epochs", f.epochs),
            ("finetune.max_epochs", f.max_epochs),
            ("finetune.budget", f.budget),
        ] {
            if n > shears_nn::train::MAX_EPOCHS {
                return bad(format!(
                    "{key} = {n} is more than {} epochs",
                    shears_nn::train::MAX_EPOCHS
                ));
            }
        }
        if f.patience.is_empty() {
            return bad("finetune.patience: the list is empty".into());
        }
        if !(f.min_delta.is_finite() && f.min_delta >= 0.0) {
            return bad(format!("finetune.min_delta = {} must be >= 0", f.min_delta));
        }
        if !(f.lr.is_finite() && f.lr > 0.0) {
            return bad(format!("finetune.lr = {} must be positive", f.lr));
        }
        if f.batch_size == 0 {
            return bad("finetune.batch_size must be at least 1".into());
        }
        f.optimizer
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("finetune.{e}")))?;
        f.lr_policy
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("finetune.lr_policy: {e}")))?;
        Ok(())
    }
}

/// A schedule error under its dotted key (`schedule.target must be in (0, 1), got 1`): the
/// messages of single-field errors start with the field's name.
pub(super) fn schedule_error(e: ScheduleError) -> ConfigError {
    use ScheduleError as E;
    let field = matches!(
        e,
        E::InvalidTarget { .. }
            | E::InvalidStep { .. }
            | E::InvalidSteps { .. }
            | E::InvalidStart { .. }
            | E::InvalidPower { .. }
    );
    ConfigError::Invalid(if field {
        format!("schedule.{e}")
    } else {
        format!("schedule: {e}")
    })
}

/// A dense-recipe error under its dotted key: `train.epochs ...` -> `dense.epochs ...`,
/// `optimizer.momentum ...` -> `dense.optimizer.momentum ...`.
pub(super) fn dense_error(e: &str) -> String {
    if let Some(rest) = e.strip_prefix("train.") {
        format!("dense.{rest}")
    } else if e.starts_with("optimizer.") {
        format!("dense.{e}")
    } else {
        format!("dense.lr_policy: {e}")
    }
}

//! The results schema: one row per pruning step of one run (step 0 = the dense baseline).
//!
//! Column names are part of the documented, versioned on-disk format (`docs/results-schema.md`):
//! `steps.csv` and `steps.jsonl` in every run directory hold these rows. The reference's
//! columns derive from them: `pruned_precent = 100·sparsity`, `top1_accuracy = 100·test_top1`,
//! `top5_accuracy = 100·test_top5`, `total_epoch = cum_epochs`, `repeat = repeat`.

use serde::{Deserialize, Serialize};

/// Version of the results store's schema (rows and run state); readers refuse directories
/// written by a newer one. 2: `state.json` also records the checksums of the committed rows
/// and a digest of itself (schema 1 runs are read, unverified). 3: rows also record the test
/// metrics of the pruned model before it is fine-tuned (`pruned_test_*`; absent in older rows).
pub const SCHEMA_VERSION: u32 = 3;

/// A run that could not finish for a reason of its own (training diverged), recorded so a
/// sweep goes on and its report says which runs are missing and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRun {
    pub experiment: String,
    pub regime: String,
    pub target: f64,
    pub seed: u64,
    /// Last step committed before the failure (0 = only the dense baseline, or none).
    pub completed_step: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    /// Hash of the resolved experiment config (the run directory's name).
    pub experiment: String,
    /// Schedule name of the experiment (`one-shot`, `geometric`, `constant`, `hybrid`, ...).
    pub regime: String,
    /// Target sparsity of the schedule.
    pub target: f64,
    /// Index of the seed in the experiment's seed list.
    pub repeat: usize,
    pub seed: u64,
    /// 0 = dense baseline, then 1..=steps.
    pub step: usize,
    /// Fraction of the original prunable count removed at this step.
    pub fraction_removed: f64,
    /// Cumulative sparsity the schedule planned after this step.
    pub planned_sparsity: f64,
    /// Realised fraction of prunable weights that are zero.
    pub sparsity: f64,
    /// Zeros over all parameters of the model (BatchNorm included).
    pub model_sparsity: f64,
    pub remaining_params: u64,
    /// Forward FLOPs per sample of the dense model.
    pub flops_dense: u64,
    /// Forward FLOPs per sample counting only non-zero weights (or the shrunk model).
    pub flops_effective: u64,
    /// Fine-tuning epochs run at this step (0 for the baseline).
    pub epochs: usize,
    pub cum_epochs: usize,
    /// Epoch of this step whose weights were kept (1-based; 0 when none ran).
    pub best_epoch: usize,
    /// Training FLOPs spent on fine-tuning so far: 3 × effective forward FLOPs × samples seen.
    pub cum_train_flops: f64,
    pub wall_s: f64,
    pub cum_wall_s: f64,
    pub val_top1: f64,
    pub val_top5: f64,
    pub val_loss: f64,
    pub test_top1: f64,
    pub test_top5: f64,
    pub test_loss: f64,
    /// Test top-1 of the model right after this step's pruning, before fine-tuning (the "no
    /// fine-tuning" point). `None` for the baseline, for rows written before schema 3, and
    /// when the pruned model's logits were not finite.
    #[serde(default)]
    pub pruned_test_top1: Option<f64>,
    /// Test loss (nats per sample or token) of the pruned model before fine-tuning.
    #[serde(default)]
    pub pruned_test_loss: Option<f64>,
    /// Worker threads the run computed with (results depend on it: docs/determinism.md); 0 in
    /// rows written before it was recorded.
    #[serde(default)]
    pub threads: usize,
}

impl StepRow {
    /// CSV header, in field order.
    pub const COLUMNS: [&'static str; 28] = [
        "experiment",
        "regime",
        "target",
        "repeat",
        "seed",
        "step",
        "fraction_removed",
        "planned_sparsity",
        "sparsity",
        "model_sparsity",
        "remaining_params",
        "flops_dense",
        "flops_effective",
        "epochs",
        "cum_epochs",
        "best_epoch",
        "cum_train_flops",
        "wall_s",
        "cum_wall_s",
        "val_top1",
        "val_top5",
        "val_loss",
        "test_top1",
        "test_top5",
        "test_loss",
        "pruned_test_top1",
        "pruned_test_loss",
        "threads",
    ];

    /// One CSV line (no quoting needed: no field contains a comma or quote); an absent value
    /// is an empty field.
    pub fn csv_line(&self) -> String {
        let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            self.experiment,
            self.regime,
            self.target,
            self.repeat,
            self.seed,
            self.step,
            self.fraction_removed,
            self.planned_sparsity,
            self.sparsity,
            self.model_sparsity,
            self.remaining_params,
            self.flops_dense,
            self.flops_effective,
            self.epochs,
            self.cum_epochs,
            self.best_epoch,
            self.cum_train_flops,
            self.wall_s,
            self.cum_wall_s,
            self.val_top1,
            self.val_top5,
            self.val_loss,
            self.test_top1,
            self.test_top5,
            self.test_loss,
            opt(self.pruned_test_top1),
            opt(self.pruned_test_loss),
            self.threads
        )
    }

    /// The whole CSV file for `rows`.
    pub fn to_csv(rows: &[StepRow]) -> String {
        let mut s = Self::COLUMNS.join(",");
        s.push('\n');
        for r in rows {
            s += &r.csv_line();
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_one_value_per_column_and_documented_names() {
        let r = StepRow {
            experiment: "abc".into(),
            regime: "geometric".into(),
            target: 0.8,
            repeat: 1,
            seed: 7,
            step: 2,
            fraction_removed: 0.16,
            planned_sparsity: 0.36,
            sparsity: 0.36,
            model_sparsity: 0.35,
            remaining_params: 1000,
            flops_dense: 10,
            flops_effective: 7,
            epochs: 3,
            cum_epochs: 9,
            best_epoch: 2,
            cum_train_flops: 1e9,
            wall_s: 1.5,
            cum_wall_s: 4.0,
            val_top1: 0.8,
            val_top5: 0.99,
            val_loss: 0.5,
            test_top1: 0.79,
            test_top5: 0.98,
            test_loss: 0.55,
            pruned_test_top1: Some(0.7),
            pruned_test_loss: None,
            threads: 2,
        };
        let csv = StepRow::to_csv(std::slice::from_ref(&r));
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].split(',').count(), StepRow::COLUMNS.len());
        for col in [
            "repeat",
            "seed",
            "step",
            "sparsity",
            "test_top1",
            "val_top1",
            "cum_epochs",
            "cum_train_flops",
            "wall_s",
        ] {
            assert!(StepRow::COLUMNS.contains(&col), "{col}");
        }
        // Field order of the JSON form equals the CSV header.
        let json = serde_json::to_value(&r).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), StepRow::COLUMNS.len());
        let mut columns = StepRow::COLUMNS.to_vec();
        columns.sort_unstable();
        assert!(keys.iter().zip(&columns).all(|(k, c)| k.as_str() == *c)); // JSON keys sorted
        // An absent value is an empty field, and rows without the later fields still read.
        assert!(lines[1].ends_with(",0.7,,2"), "{}", lines[1]);
        let mut old = json.as_object().unwrap().clone();
        old.remove("pruned_test_top1");
        old.remove("pruned_test_loss");
        old.remove("threads");
        let back: StepRow = serde_json::from_value(old.into()).unwrap();
        assert_eq!((back.pruned_test_top1, back.threads), (None, 0));
    }
}

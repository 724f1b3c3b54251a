//! The types of the analysis, serialised together as `summary.json` (schema in the crate docs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shears_core::results::FailedRun;
use shears_core::stats::{Crossing, LocatedCrossing, Spending};

use crate::Measure;

/// Options of [`analyze`](crate::analyze).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnalysisOptions {
    /// What regimes are judged by: test top-1 (default; not written) or test perplexity
    /// (lower is better). Every mean, difference, CI, margin and `dense` of the summary is in
    /// its units.
    #[serde(skip_serializing_if = "Measure::is_top1")]
    pub measure: Measure,
    /// When several configurations (experiment ids) of one regime exist at one target, keep the
    /// one with the best mean *validation* measure (true, default) or the best mean *test*
    /// measure (false: what the paper did). The kept configuration's *test* measure is reported.
    pub select_on_validation: bool,
    /// Regime name of the one-shot side of the crossover.
    pub one_shot_regime: String,
    /// Regime name of the iterative side of the crossover.
    pub iterative_regime: String,
    /// Target sparsity the user wants a recommendation for (`None`: one per measured target only).
    pub recommend_target: Option<f64>,
    /// Upper bound on mean cumulative fine-tuning epochs for the recommendation.
    pub epoch_budget: Option<f64>,
    /// Structured results: the measure their targets count (`params`, `flops` or `channels`).
    /// Every cell then reports its remaining parameters and FLOPs, and regimes that reach one
    /// target more than 1% apart in that measure (parameters for `channels`) are warned about:
    /// their accuracies compare different models. Written only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_measure: Option<String>,
    /// Equivalence margin m: two regimes whose mean difference is shown to lie within ±m (TOST)
    /// are "equivalent". For top-1 a fraction of accuracy (0.005 = 0.5 pp); for perplexity a
    /// fraction of the best mean perplexity at the target (0.01 = 1%):
    /// [`Measure::default_margin`].
    pub margin: f64,
    /// The seeds were added sequentially (`--seeds auto`): every pair is judged at its look
    /// of this group-sequential design instead of by Holm over a fixed sample. Written only
    /// when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequential: Option<SequentialOptions>,
}

/// A group-sequential design over seeds (docs/statistics.md#sequential-design).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialOptions {
    /// Seeds at the first look.
    pub start: usize,
    /// Seeds at the last look.
    pub max: usize,
    pub spending: Spending,
}

/// Default equivalence margin: half a percentage point of accuracy.
pub const DEFAULT_MARGIN: f64 = 0.005;

impl Default for AnalysisOptions {
    fn default() -> Self {
        Self {
            measure: Measure::Top1,
            select_on_validation: true,
            one_shot_regime: "one-shot".into(),
            iterative_regime: "geometric".into(),
            recommend_target: None,
            epoch_budget: None,
            size_measure: None,
            margin: DEFAULT_MARGIN,
            sequential: None,
        }
    }
}

impl AnalysisOptions {
    /// The defaults for `measure`, with its default margin.
    pub fn with_measure(measure: Measure) -> Self {
        Self {
            measure,
            margin: measure.default_margin(),
            ..Self::default()
        }
    }
}

/// The final result of one seed of the selected configuration. Top-1 is always kept (for a
/// language model it is next-token accuracy); perplexity only when it is the measure, so
/// top-1 summaries are unchanged ([`Measure::seed_test`] reads the measure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedValue {
    pub seed: u64,
    pub test_top1: f64,
    pub val_top1: f64,
    /// `exp(test_loss)`: present when the measure is perplexity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_ppl: Option<f64>,
    /// `exp(val_loss)`: present when the measure is perplexity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_ppl: Option<f64>,
    pub cum_epochs: usize,
    pub cum_train_flops: f64,
    pub sparsity: f64,
    /// Cumulative fine-tuning wall time of the run, seconds on the machine that ran it
    /// (absent in summaries written before it was reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cum_wall_s: Option<f64>,
    /// The measure right after pruning, before fine-tuning: present for a one-step run whose
    /// rows record it (results schema 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_only: Option<f64>,
}

/// One configuration (experiment id) of a regime at a target, as considered by the selection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigSummary {
    pub experiment: String,
    pub n: usize,
    pub val_mean: f64,
    pub test_mean: f64,
    pub test_ci95: Option<f64>,
    pub epochs: f64,
    pub train_flops: f64,
    pub sparsity: f64,
    /// Mean cumulative fine-tuning wall time, seconds (see [`SeedValue::cum_wall_s`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_s: Option<f64>,
    pub selected: bool,
}

/// One (target, regime) cell: the selected configuration's final test measure over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSummary {
    pub regime: String,
    /// Experiment id of the selected configuration.
    pub experiment: String,
    pub n: usize,
    /// Mean final test measure (top-1 as a fraction, or perplexity).
    pub mean: f64,
    /// Sample std over seeds (`null` for n = 1).
    pub std: Option<f64>,
    /// 95% Student t CI half-width (`null` for n = 1).
    pub ci95: Option<f64>,
    /// Mean final validation measure (the selection metric by default).
    pub val_mean: f64,
    /// Mean cumulative fine-tuning epochs.
    pub epochs: f64,
    /// Mean cumulative training FLOPs of fine-tuning.
    pub train_flops: f64,
    /// Mean realised sparsity of the final step.
    pub sparsity: f64,
    /// Mean cumulative fine-tuning wall time, seconds on the machine that ran it: measured,
    /// so noisy (other load, thread count); a cost beside epochs and FLOPs, never a verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_s: Option<f64>,
    /// Structured results only: the selected configuration's final size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<CellSize>,
    /// One-step regimes only: the selected configuration's measure after pruning and before
    /// any fine-tuning, over the same seeds (absent when a seed lacks it). The "no
    /// fine-tuning" point that LLM pruning papers report; never judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_only: Option<DenseSummary>,
    /// Every configuration of this regime at this target; `selected` marks the kept one.
    pub configurations: Vec<ConfigSummary>,
    /// Per-seed values of the selected configuration, sorted by seed.
    pub seeds: Vec<SeedValue>,
}

/// Final size of a structured cell, means over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSize {
    /// Remaining trainable parameters (`remaining_params`).
    pub params: f64,
    /// Forward FLOPs per sample (`flops_effective`).
    pub flops: f64,
}

/// The best-mean regime at a target against one other regime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub regime: String,
    /// Paired mean of best − this regime over the common seeds, in the measure's units
    /// (negative for perplexity, where lower is better).
    pub difference: f64,
    pub ci95: Option<f64>,
    pub n_pairs: usize,
    pub p_value: Option<f64>,
    /// Holm-adjusted p of the paired t-test within the report's family of all pairs.
    pub p_adjusted: Option<f64>,
    /// Holm-adjusted p of the equivalence test (TOST at the margin).
    pub equivalence_p_adjusted: Option<f64>,
    /// The best mean is significantly better (Holm-adjusted p < α).
    pub significant: bool,
    /// The best mean against this regime: `better`, `equivalent`, `inconclusive` (or
    /// `untested` without two shared seeds).
    pub verdict: String,
    /// When inconclusive: seeds that would resolve a difference of the margin at 80% power.
    pub seeds_needed: Option<usize>,
    pub min_detectable_difference: Option<f64>,
    pub note: Option<String>,
}

/// Everything measured at one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSummary {
    pub target: f64,
    /// Keyed by regime name.
    pub regimes: BTreeMap<String, CellSummary>,
    /// The recommended regime when it is significantly better than every other, else `null`.
    pub winner: Option<String>,
    /// The regime with the best mean (highest top-1, lowest perplexity), significant or not.
    pub best_mean: String,
    /// The regime with the second-best mean (`null` with one regime).
    pub runner_up: Option<String>,
    /// Paired mean difference best − runner-up (measure's units; `null` without a runner-up).
    pub difference: Option<f64>,
    pub difference_ci95: Option<f64>,
    pub n_pairs: usize,
    pub p_value: Option<f64>,
    pub test: String,
    pub significant: bool,
    pub min_detectable_difference: Option<f64>,
    /// Regimes not significantly worse than the best mean (the best included).
    pub tied_with_best: Vec<String>,
    /// Fewest mean epochs among `tied_with_best`.
    pub cheapest_tied: String,
    /// Epochs of `best_mean` ÷ epochs of `cheapest_tied` (`null` when the latter is 0).
    pub epochs_ratio: Option<f64>,
    /// The regime to use: the best mean, unless a cheaper one is equivalent to it.
    pub recommended: String,
    /// The recommended regime against the rest: `winner` (better than all), `equivalent`
    /// (better than or equivalent to all), `inconclusive`, or `only` (one regime measured).
    pub verdict: String,
    /// When inconclusive: seeds per regime that would resolve the open pairs at the margin.
    pub seeds_needed: Option<usize>,
    /// Best mean against every other regime.
    pub comparisons: Vec<Comparison>,
    /// One-sentence verdict.
    pub statement: String,
}

/// Difference iterative − one-shot at one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossoverPoint {
    pub target: f64,
    pub difference: f64,
    pub ci95: Option<f64>,
    pub n_pairs: usize,
    pub p_value: Option<f64>,
    /// Holm-adjusted within the report's family of all pairs.
    pub p_adjusted: Option<f64>,
}

/// Where iterative − one-shot changes sign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossoverSummary {
    pub one_shot: String,
    pub iterative: String,
    /// How the estimate and its interval are computed.
    pub method: String,
    pub points: Vec<CrossoverPoint>,
    /// A crossover is located only between targets where the difference is significantly
    /// non-zero (Holm-adjusted) on both sides with opposite signs; `resolved` when the sign
    /// of the difference is known across the whole measured range.
    pub resolved: bool,
    /// Located crossings (empty when not resolved, or when the sign never changes).
    pub crossings: Vec<LocatedCrossing>,
    /// Every sign change of the mean difference, located or not, with its interpolated
    /// estimate and band: an unresolved one is noise until the data say otherwise.
    pub sign_changes: Vec<Crossing>,
    pub statement: String,
}

/// A test measure over distinct seeds: the dense (step-0) baseline, or a cell's "not
/// fine-tuned" point ([`CellSummary::pruned_only`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseSummary {
    pub n: usize,
    pub mean: f64,
    pub std: Option<f64>,
    pub ci95: Option<f64>,
}

/// One regime's numbers behind a recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub regime: String,
    pub experiment: String,
    pub mean: f64,
    pub ci95: Option<f64>,
    pub n: usize,
    pub epochs: f64,
    pub train_flops: f64,
    pub within_budget: bool,
    /// Paired difference recommended − this regime (`null` for the recommended one itself).
    pub difference_vs_recommended: Option<f64>,
    pub p_value_vs_recommended: Option<f64>,
}

/// A recommendation derived only from the measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub requested_target: Option<f64>,
    pub epoch_budget: Option<f64>,
    /// The measured target the recommendation rests on (the nearest one).
    pub measured_target: Option<f64>,
    pub regime: Option<String>,
    pub experiment: Option<String>,
    /// `significantly_best`, `tied_cheapest`, `only_candidate`, `none_within_budget`, `no_data`
    /// or (for the overall recommendation without a requested target) `no_target_requested`.
    pub basis: String,
    pub text: String,
    pub evidence: Vec<Evidence>,
}

/// The whole analysis; serialised as `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema_version: u32,
    pub test: String,
    pub alpha: f64,
    pub power: f64,
    /// Equivalence margin ([`AnalysisOptions::margin`]: absolute for top-1, relative to the
    /// best mean for perplexity).
    pub margin: f64,
    /// How the p-values of the report are corrected for testing many pairs.
    pub multiplicity: String,
    /// How one configuration per (target, regime) was chosen.
    pub selection: String,
    pub options: AnalysisOptions,
    pub runs: usize,
    pub dense: Option<DenseSummary>,
    pub targets: Vec<TargetSummary>,
    pub crossover: CrossoverSummary,
    pub recommendation: Recommendation,
    pub recommendations_by_target: Vec<Recommendation>,
    pub warnings: Vec<String>,
    /// Set by the caller when the report rests on fewer runs than its experiments declare
    /// (their results were missing from the store): shown first in the reports, and also
    /// in `warnings`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// Runs that failed on their own (training diverged) and so have no rows here; filled in
    /// by the caller, who read them from the store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedRun>,
    /// The resolved config passed to `write_report` (`null` from `analyze`).
    pub config: serde_json::Value,
}

impl Summary {
    /// Targets whose answer is not resolved (the recommended regime is neither better than
    /// nor equivalent to every other): where `--seeds auto` adds a seed.
    pub fn open_targets(&self) -> Vec<f64> {
        self.targets
            .iter()
            .filter(|t| t.verdict == "inconclusive")
            .map(|t| t.target)
            .collect()
    }
}

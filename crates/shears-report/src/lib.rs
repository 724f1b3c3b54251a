//! Analysis and report layer of shears: turns [`StepRow`](shears_core::results::StepRow)s into
//! per-target regime comparisons, a crossover estimate, a recommendation, and a report.
//!
//! ```no_run
//! # use shears_report::*;
//! # let rows: Vec<shears_core::results::StepRow> = vec![];
//! let summary = analyze(&rows, &AnalysisOptions::default());
//! write_report("out/report".as_ref(), &rows, &summary, &serde_json::json!({})).unwrap();
//! ```
//!
//! # Rules
//! - A *run* is all rows of one `experiment` id and one `seed`; its result is its last step.
//!   Runs with only step 0, or with a non-finite final accuracy, are dropped with a warning.
//! - A *configuration* is an experiment id; several may share a (target, regime). Per
//!   (target, regime) one is kept: best mean validation top-1 (or test top-1 when
//!   [`AnalysisOptions::select_on_validation`] is false); ties → more seeds, then smaller id.
//! - Regimes are compared **paired by seed** (same seed = same dense model) with a two-sided
//!   paired t-test at α = 0.05 over the seeds the two configurations share.
//! - At each target the regime with the highest mean is `best_mean`; it is the `winner` only if
//!   it is significantly better than the runner-up. Regimes not significantly worse than the best
//!   are `tied_with_best`; `cheapest_tied` is the one with the fewest mean epochs.
//! - Crossover: see [`CrossoverSummary::method`] and [`shears_core::stats::crossings`].
//! - Recommendation: at the nearest measured target, among regimes within the epoch budget,
//!   the significant winner, else the cheapest regime tied with the best mean.
//!
//! # `summary.json` (schema version 1)
//! Accuracies, differences, CIs and sparsities are fractions in [0, 1]. Undefined statistics are
//! `null`, never NaN.
//! ```text
//! schema_version: 1
//! test: "paired t-test over seeds"      alpha: 0.05      power: 0.8
//! selection: text of the configuration-selection rule
//! options: AnalysisOptions              runs: number of runs used
//! dense: {n, mean, std|null, ci95|null} | null      (step-0 test top-1 over distinct seeds)
//! targets: [ {                          (sorted by target)
//!   target,
//!   regimes: { "<regime>": {            (sorted by name)
//!       regime, experiment (selected id), n, mean, std|null, ci95|null (half-width),
//!       val_mean, epochs (mean cum fine-tuning epochs), train_flops (mean cum_train_flops),
//!       sparsity (mean realised), size: {params, flops} (only with options.size_measure),
//!       configurations: [{experiment, n, val_mean, test_mean, test_ci95, epochs, train_flops,
//!                         sparsity, selected}],
//!       seeds: [{seed, test_top1, val_top1, cum_epochs, cum_train_flops, sparsity}] } },
//!   winner: regime|null (null = no significant difference or nothing to compare),
//!   best_mean, runner_up|null, difference|null (paired best − runner-up), difference_ci95|null,
//!   n_pairs, p_value|null, test, significant, min_detectable_difference|null,
//!   tied_with_best: [regime], cheapest_tied, epochs_ratio|null (best epochs ÷ cheapest epochs),
//!   comparisons: [{regime, difference, ci95, n_pairs, p_value, significant,
//!                  min_detectable_difference, note}],   (best vs every other regime)
//!   statement } ]
//! crossover: { one_shot, iterative, method,
//!   points: [{target, difference (iterative − one-shot), ci95, n_pairs, p_value}],
//!   crossings: [{direction: "up"|"down", estimate, between: [t0, t1], interval: [lo, hi]|null,
//!                lower_open, upper_open}],     (empty = no crossing; see statement)
//!   statement }
//! recommendation: { requested_target|null, epoch_budget|null, measured_target|null,
//!   regime|null, experiment|null,
//!   basis: "significantly_best"|"tied_cheapest"|"only_candidate"|"none_within_budget"|
//!          "no_data"|"no_target_requested",
//!   text, evidence: [{regime, experiment, mean, ci95, n, epochs, train_flops, within_budget,
//!                     difference_vs_recommended, p_value_vs_recommended}] }
//! recommendations_by_target: [recommendation]   (one per measured target)
//! warnings: [text]
//! config: the resolved config passed to write_report
//! ```

mod analysis;
mod plots;
mod render;

pub use analysis::{
    ALPHA, AnalysisOptions, CellSize, CellSummary, Comparison, ConfigSummary, CrossoverPoint,
    CrossoverSummary, DenseSummary, Evidence, POWER, Recommendation, SUMMARY_SCHEMA_VERSION,
    SeedValue, Summary, TEST_NAME, TargetSummary, analyze,
};
pub use plots::FIG_SIZE;
pub use render::{CSV_COLUMNS, report_html, report_md, results_csv, write_report};

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
//! - The *measure* ([`AnalysisOptions::measure`], [`Measure`]) is test top-1 accuracy (default,
//!   higher is better) or test perplexity `exp(test_loss)` (lower is better). "Best",
//!   "better" and "worse" below follow its direction: every ranking and test works on the
//!   oriented value (positive = better) while the summary shows the real one.
//! - A *run* is all rows of one `experiment` id and one `seed`; its result is its last step.
//!   Runs with only step 0, or with a non-finite final measure (for perplexity: an infinite or
//!   NaN loss), are dropped with a warning.
//! - A *configuration* is an experiment id; several may share a (target, regime). Per
//!   (target, regime) one is kept: best mean validation measure (or test measure when
//!   [`AnalysisOptions::select_on_validation`] is false); ties → more seeds, then smaller id.
//! - Regimes are compared **paired by seed** (same seed = same dense model) over the seeds the
//!   two configurations share. Every pair of regimes at every target is judged in one family:
//!   *better* (two-sided paired t-test), *equivalent* (TOST: the mean difference lies within
//!   ± [`AnalysisOptions::margin`]: absolute for top-1, a fraction of the best mean at the
//!   target for perplexity) or *inconclusive*; the t-tests are Holm-corrected over the
//!   whole report, and the equivalence tests separately (docs/statistics.md).
//! - At each target the regime with the best mean is `best_mean`. The `recommended` regime
//!   is the best mean unless a cheaper one (fewer mean epochs) is *equivalent* to it; its
//!   `verdict` against every other regime is `winner` (better than all), `equivalent` (better
//!   than or equivalent to all) or `inconclusive` (with `seeds_needed`).
//! - Crossover: located only where iterative − one-shot is significantly non-zero on both sides
//!   with opposite signs ([`CrossoverSummary::resolved`]).
//! - Recommendation: at the nearest measured target, among regimes within the epoch budget,
//!   the same rule as `recommended`.
//!
//! # `summary.json` (schema version 2 for top-1, 3 for perplexity)
//! Means, differences, CIs and `dense` are in the measure's units: top-1 as a fraction in
//! [0, 1], perplexity as is; differences are real (best − other: negative for perplexity).
//! Sparsities are fractions. The margin is `options.margin` (see [`AnalysisOptions::margin`]).
//! Undefined statistics are `null`, never NaN.
//! ```text
//! schema_version: 2 (top-1) | 3 (options.measure present: "perplexity")
//! test: "paired t-test over seeds"      alpha: 0.05      power: 0.8      margin: 0.005
//! multiplicity: text of the correction (Holm over all pairs; separately over their TOSTs)
//! selection: text of the configuration-selection rule
//! options: AnalysisOptions (incl. margin; measure only when not top-1)   runs: runs used
//! dense: {n, mean, std|null, ci95|null} | null      (step-0 test measure over distinct seeds)
//! targets: [ {                          (sorted by target)
//!   target,
//!   regimes: { "<regime>": {            (sorted by name)
//!       regime, experiment (selected id), n, mean, std|null, ci95|null (half-width),
//!       val_mean, epochs (mean cum fine-tuning epochs), train_flops (mean cum_train_flops),
//!       sparsity (mean realised), wall_s (mean cumulative fine-tuning wall seconds, measured;
//!       absent in summaries written before it was reported), size: {params, flops} (only
//!       with options.size_measure), pruned_only: {n, mean, std, ci95} (one-step regimes whose
//!       every seed recorded it: the measure right after pruning, before fine-tuning; never
//!       judged),
//!       configurations: [{experiment, n, val_mean, test_mean, test_ci95, epochs, train_flops,
//!                         sparsity, wall_s, selected}],
//!       seeds: [{seed, test_top1, val_top1, test_ppl, val_ppl (perplexity only),
//!                cum_epochs, cum_train_flops, sparsity, cum_wall_s, pruned_only}] } },
//!   winner: regime|null (= recommended when verdict is "winner"),
//!   best_mean, runner_up|null, difference|null (paired best − runner-up), difference_ci95|null,
//!   n_pairs, p_value|null (raw), test, significant (Holm-adjusted), min_detectable_difference|null,
//!   tied_with_best: [regime] (not significantly worse), cheapest_tied, epochs_ratio|null,
//!   recommended, verdict: "winner"|"equivalent"|"inconclusive"|"only",
//!   seeds_needed|null (when inconclusive: seeds per regime resolving the margin at 80% power
//!   at α / (number of pairs in the report), the level Holm asks of the smallest p),
//!   comparisons: [{regime, difference, ci95, n_pairs, p_value, p_adjusted,
//!                  equivalence_p_adjusted, significant,
//!                  verdict: "better"|"equivalent"|"inconclusive"|"untested",
//!                  seeds_needed|null, min_detectable_difference, note}],  (best vs every other)
//!   statement } ]
//! crossover: { one_shot, iterative, method,
//!   points: [{target, difference (iterative − one-shot), ci95, n_pairs, p_value, p_adjusted}],
//!   resolved: bool,
//!   crossings: [{direction: "up"|"down", between: [t0, t1]}]   (located only; empty when
//!              not resolved; "up" = the iterative regime overtakes, whatever the measure),
//!   sign_changes: [{direction, estimate, between, interval|null, lower_open, upper_open}]
//!              (every sign change of the means, located or not),
//!   statement }
//! recommendation: { requested_target|null, epoch_budget|null, measured_target|null,
//!   regime|null, experiment|null,
//!   basis: "winner"|"equivalent"|"equivalent_cheaper"|"inconclusive"|"only_candidate"|
//!          "none_within_budget"|"no_data"|"no_target_requested",
//!   text, evidence: [{regime, experiment, mean, ci95, n, epochs, train_flops, within_budget,
//!                     difference_vs_recommended, p_value_vs_recommended}] }
//! recommendations_by_target: [recommendation]   (one per measured target)
//! warnings: [text]   (every unresolved question: targets, crossover, shared seeds, dropped runs)
//! config: the resolved config passed to write_report
//! ```

mod analysis;
mod measure;
mod plots;
mod render;

pub use analysis::{
    ALPHA, AnalysisOptions, CellSize, CellSummary, Comparison, ConfigSummary, CrossoverPoint,
    CrossoverSummary, DEFAULT_MARGIN, DenseSummary, Evidence, POWER, Recommendation,
    SUMMARY_SCHEMA_VERSION, SeedValue, SequentialOptions, Summary, TEST_NAME, TargetSummary,
    analyze,
};
pub use measure::{DEFAULT_PERPLEXITY_MARGIN, Measure};
pub use plots::FIG_SIZE;
pub use render::{CSV_COLUMNS, csv_columns, report_html, report_md, results_csv, write_report};

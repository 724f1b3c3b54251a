//! Aggregation of result rows over seeds, regime comparisons, crossover and recommendation.
//!
//! [`analyze`] runs the steps in order, each in its own file:
//! - `runs`: rows → finished runs (one per experiment id and seed) and the dense baseline;
//! - `cells`: runs → one selected configuration per (target, regime);
//! - `pairs`: the paired comparisons and the verdict at one target;
//! - `crossover`: where the iterative − one-shot difference changes sign;
//! - `recommend`: the recommendation per measured target and the overall one.
//!
//! `summary` holds the types, serialised together as `summary.json`.

mod cells;
mod crossover;
mod pairs;
mod recommend;
mod runs;
mod summary;
mod verdicts;

use std::collections::BTreeMap;

use shears_core::results::StepRow;
use shears_core::stats;

pub use summary::{
    AnalysisOptions, CellSize, CellSummary, Comparison, ConfigSummary, CrossoverPoint,
    CrossoverSummary, DEFAULT_MARGIN, DenseSummary, Evidence, Recommendation, SeedValue,
    SequentialOptions, Summary, TargetSummary,
};

/// Newest version of the `summary.json` schema written by this crate: 3 (a measure other than
/// top-1). Top-1 summaries are still written as version 2, which they are
/// ([`Measure::schema_version`](crate::Measure::schema_version)).
pub const SUMMARY_SCHEMA_VERSION: u32 = 3;
/// Name of the test used for every regime comparison.
pub const TEST_NAME: &str = "paired t-test over seeds";
/// Significance level (two-sided) of every comparison.
pub const ALPHA: f64 = stats::ALPHA;
/// Power used for the minimal detectable difference.
pub const POWER: f64 = stats::POWER;

/// Targets closer than this are the same target.
const TARGET_KEY_SCALE: f64 = 1e6;

fn target_key(t: f64) -> i64 {
    (t * TARGET_KEY_SCALE).round() as i64
}

/// How the report's p-values are adjusted, in the words its sentences use.
pub(crate) fn adjusted(opts: &AnalysisOptions) -> &'static str {
    adjusted_for(opts.sequential.is_some())
}

/// [`adjusted`] for a report with (`sequential`) or without a group-sequential design.
pub(crate) fn adjusted_for(sequential: bool) -> &'static str {
    if sequential {
        "design-adjusted"
    } else {
        "Holm-adjusted"
    }
}

/// Formats a fraction as a percentage with two decimals.
pub(crate) fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// Formats a difference of fractions in percentage points.
pub(crate) fn pp(x: f64) -> String {
    format!("{:+.2} pp", 100.0 * x)
}

/// Formats a p-value.
pub(crate) fn pval(p: Option<f64>) -> String {
    match p {
        None => "p undefined".into(),
        Some(p) if p < 0.001 => "p < 0.001".into(),
        Some(p) => format!("p = {p:.3}"),
    }
}

fn mean_of(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    stats::mean(&v).unwrap_or(0.0)
}

/// Aggregates `rows` into a [`Summary`]: see the crate documentation for every rule.
pub fn analyze(rows: &[StepRow], opts: &AnalysisOptions) -> Summary {
    let mut warnings = Vec::new();
    let runs = runs::finished_runs(rows, opts.measure, &mut warnings);
    let dense = runs::dense_baseline(rows, opts.measure, &mut warnings);
    let cells: Vec<(f64, BTreeMap<String, CellSummary>)> = cells::group_by_target(&runs)
        .values()
        .map(|(target, regimes)| (*target, cells::select_cells(regimes, opts)))
        .collect();
    let family: Vec<(f64, &BTreeMap<String, CellSummary>)> =
        cells.iter().map(|(t, c)| (*t, c)).collect();
    let verdicts = verdicts::Verdicts::judge(&family, opts);
    let mut targets = Vec::new();
    for (target, cells) in cells {
        warnings.extend(cells::size_warning(target, &cells, opts));
        targets.push(pairs::compare_target(
            target,
            cells,
            &verdicts,
            &mut warnings,
        ));
    }
    unresolved_warnings(&targets, &mut warnings);
    let crossover = crossover::crossover(&targets, opts, &verdicts, &mut warnings);
    let (recommendation, recommendations_by_target) =
        recommend::recommendations(&targets, opts, &verdicts);
    Summary {
        schema_version: opts.measure.schema_version(),
        test: TEST_NAME.into(),
        alpha: ALPHA,
        power: POWER,
        margin: opts.margin,
        multiplicity: multiplicity(opts, verdicts.len()),
        selection: selection_rule(opts),
        options: opts.clone(),
        runs: runs.len(),
        dense,
        targets,
        crossover,
        recommendation,
        recommendations_by_target,
        warnings,
        incomplete: None,
        failed: Vec::new(),
        config: serde_json::Value::Null,
    }
}

/// How the report's claims are kept from being made by chance, as `summary.json` states it.
fn multiplicity(opts: &AnalysisOptions, pairs: usize) -> String {
    let margin = opts.measure.fmt_margin(opts.margin);
    match opts.sequential {
        None => format!(
            "Holm over all {pairs} paired t-tests of the report (every pair of regimes at every target), and separately over their {pairs} equivalence tests (TOST at ±{margin})"
        ),
        Some(s) => format!(
            "seeds added sequentially (--seeds auto): a group-sequential design per pair with looks at {}..{} seeds and {} alpha spending, each of the {pairs} pairs (every pair of regimes at every target) run at α/{pairs} (Bonferroni) for its paired t-test and for its equivalence test (TOST at ±{margin}); adjusted p = p · α / (the look's nominal level)",
            s.start,
            s.max,
            match s.spending {
                stats::Spending::OBrienFleming => "O'Brien–Fleming-type",
                stats::Spending::Pocock => "Pocock-type",
            }
        ),
    }
}

/// One warning per target whose answer is not resolved, in words.
fn unresolved_warnings(targets: &[TargetSummary], warnings: &mut Vec<String>) {
    for t in targets.iter().filter(|t| t.verdict == "inconclusive") {
        let n = t.regimes.values().map(|c| c.n).max().unwrap_or(0);
        warnings.push(format!(
            "target {}: not resolved with {n} seeds (best mean {}, neither better than nor equivalent to every other regime); {}",
            pct(t.target),
            t.best_mean,
            t.seeds_needed
                .map(|s| format!("≈ {s} seeds would resolve a difference of the margin"))
                .unwrap_or_else(|| "the seeds needed cannot be estimated".into())
        ));
    }
}

/// The configuration-selection rule, as `summary.json` states it.
fn selection_rule(opts: &AnalysisOptions) -> String {
    let m = opts.measure;
    let lower = if m.higher_is_better() {
        ""
    } else {
        " (lowest)"
    };
    if opts.select_on_validation {
        format!(
            "per (target, regime), the configuration (experiment id) with the best mean {}{lower}; its {} is reported",
            m.val_name(),
            m.name()
        )
    } else {
        format!(
            "per (target, regime), the configuration (experiment id) with the best mean {}{lower} (as in the paper; optimistic)",
            m.name()
        )
    }
}

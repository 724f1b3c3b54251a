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

use shears_core::results::StepRow;
use shears_core::stats;

pub use summary::{
    AnalysisOptions, CellSize, CellSummary, Comparison, ConfigSummary, CrossoverPoint,
    CrossoverSummary, DenseSummary, Evidence, Recommendation, SeedValue, Summary, TargetSummary,
};

/// Version of the `summary.json` schema written by this crate.
pub const SUMMARY_SCHEMA_VERSION: u32 = 1;
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
    let runs = runs::finished_runs(rows, &mut warnings);
    let dense = runs::dense_baseline(rows, &mut warnings);
    let mut targets = Vec::new();
    for (target, regimes) in cells::group_by_target(&runs).values() {
        let cells = cells::select_cells(regimes, opts);
        warnings.extend(cells::size_warning(
            *target,
            &cells,
            opts.size_measure.as_deref(),
        ));
        targets.push(pairs::compare_target(*target, cells, &mut warnings));
    }
    let crossover = crossover::crossover(&targets, opts);
    let (recommendation, recommendations_by_target) = recommend::recommendations(&targets, opts);
    Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        test: TEST_NAME.into(),
        alpha: ALPHA,
        power: POWER,
        selection: selection_rule(opts).into(),
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

/// The configuration-selection rule, as `summary.json` states it.
fn selection_rule(opts: &AnalysisOptions) -> &'static str {
    if opts.select_on_validation {
        "per (target, regime), the configuration (experiment id) with the best mean validation top-1; its test top-1 is reported"
    } else {
        "per (target, regime), the configuration (experiment id) with the best mean test top-1 (as in the paper; optimistic)"
    }
}

//! Aggregation of result rows over seeds, regime comparisons, crossover and recommendation.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use shears_core::results::{FailedRun, StepRow};
use shears_core::stats::{self, Crossing, Describe, DiffPoint, PairedTest};

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

/// Options of [`analyze`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnalysisOptions {
    /// When several configurations (experiment ids) of one regime exist at one target, keep the
    /// one with the best mean *validation* top-1 (true, default) or the best mean *test* top-1
    /// (false: what the paper did). The kept configuration's *test* accuracy is reported.
    pub select_on_validation: bool,
    /// Regime name of the one-shot side of the crossover.
    pub one_shot_regime: String,
    /// Regime name of the iterative side of the crossover.
    pub iterative_regime: String,
    /// Target sparsity the user wants a recommendation for (`None`: one per measured target only).
    pub recommend_target: Option<f64>,
    /// Upper bound on mean cumulative fine-tuning epochs for the recommendation.
    pub epoch_budget: Option<f64>,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        Self {
            select_on_validation: true,
            one_shot_regime: "one-shot".into(),
            iterative_regime: "geometric".into(),
            recommend_target: None,
            epoch_budget: None,
        }
    }
}

/// The final result of one seed of the selected configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedValue {
    pub seed: u64,
    pub test_top1: f64,
    pub val_top1: f64,
    pub cum_epochs: usize,
    pub cum_train_flops: f64,
    pub sparsity: f64,
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
    pub selected: bool,
}

/// One (target, regime) cell: the selected configuration's final test top-1 over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSummary {
    pub regime: String,
    /// Experiment id of the selected configuration.
    pub experiment: String,
    pub n: usize,
    /// Mean final test top-1 (fraction).
    pub mean: f64,
    /// Sample std over seeds (`null` for n = 1).
    pub std: Option<f64>,
    /// 95% Student t CI half-width (`null` for n = 1).
    pub ci95: Option<f64>,
    /// Mean final validation top-1 (the selection metric by default).
    pub val_mean: f64,
    /// Mean cumulative fine-tuning epochs.
    pub epochs: f64,
    /// Mean cumulative training FLOPs of fine-tuning.
    pub train_flops: f64,
    /// Mean realised sparsity of the final step.
    pub sparsity: f64,
    /// Every configuration of this regime at this target; `selected` marks the kept one.
    pub configurations: Vec<ConfigSummary>,
    /// Per-seed values of the selected configuration, sorted by seed.
    pub seeds: Vec<SeedValue>,
}

/// The best-mean regime at a target against one other regime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub regime: String,
    /// Paired mean of best − this regime over the common seeds (fraction).
    pub difference: f64,
    pub ci95: Option<f64>,
    pub n_pairs: usize,
    pub p_value: Option<f64>,
    pub significant: bool,
    pub min_detectable_difference: Option<f64>,
    pub note: Option<String>,
}

/// Everything measured at one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSummary {
    pub target: f64,
    /// Keyed by regime name.
    pub regimes: BTreeMap<String, CellSummary>,
    /// The best-mean regime when it is significantly better than the runner-up, else `null`.
    pub winner: Option<String>,
    /// The regime with the highest mean, significant or not.
    pub best_mean: String,
    /// The regime with the second-highest mean (`null` with one regime).
    pub runner_up: Option<String>,
    /// Paired mean difference best − runner-up (fraction; `null` without a runner-up or pairs).
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
}

/// Where iterative − one-shot changes sign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossoverSummary {
    pub one_shot: String,
    pub iterative: String,
    /// How the estimate and its interval are computed.
    pub method: String,
    pub points: Vec<CrossoverPoint>,
    pub crossings: Vec<Crossing>,
    pub statement: String,
}

/// Step-0 (dense) test top-1 over distinct seeds.
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
    /// Runs that failed on their own (training diverged) and so have no rows here; filled in
    /// by the caller, who read them from the store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedRun>,
    /// The resolved config passed to `write_report` (`null` from `analyze`).
    pub config: serde_json::Value,
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

/// Regime → experiment id → runs, at one target.
type ByRegime<'a> = BTreeMap<&'a str, BTreeMap<&'a str, Vec<&'a Run<'a>>>>;

struct Run<'a> {
    experiment: &'a str,
    regime: &'a str,
    target: f64,
    seed: u64,
    last: &'a StepRow,
}

fn paired(a: &CellSummary, b: &CellSummary) -> Option<PairedTest> {
    let bm: BTreeMap<u64, f64> = b.seeds.iter().map(|s| (s.seed, s.test_top1)).collect();
    let (xa, xb): (Vec<f64>, Vec<f64>) = a
        .seeds
        .iter()
        .filter_map(|s| bm.get(&s.seed).map(|&v| (s.test_top1, v)))
        .unzip();
    stats::paired_t_test(&xa, &xb).ok()
}

fn mean_of(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    stats::mean(&v).unwrap_or(0.0)
}

/// Aggregates `rows` into a [`Summary`]: see the crate documentation for every rule.
pub fn analyze(rows: &[StepRow], opts: &AnalysisOptions) -> Summary {
    let mut warnings = Vec::new();

    // Runs: (experiment, seed) → rows sorted by step.
    let mut by_run: BTreeMap<(&str, u64), Vec<&StepRow>> = BTreeMap::new();
    for r in rows {
        by_run
            .entry((r.experiment.as_str(), r.seed))
            .or_default()
            .push(r);
    }
    let mut runs = Vec::new();
    for ((experiment, seed), mut steps) in by_run {
        steps.sort_by_key(|r| r.step);
        let last = *steps.last().expect("non-empty group");
        if steps
            .iter()
            .any(|r| r.regime != last.regime || target_key(r.target) != target_key(last.target))
        {
            warnings.push(format!("run {experiment}/seed {seed}: rows disagree on regime or target; the last step's are used"));
        }
        if last.step == 0 {
            warnings.push(format!(
                "run {experiment}/seed {seed}: only the dense step 0 is present; run ignored"
            ));
            continue;
        }
        if !last.test_top1.is_finite() || !last.val_top1.is_finite() {
            warnings.push(format!(
                "run {experiment}/seed {seed}: non-finite final accuracy; run ignored"
            ));
            continue;
        }
        runs.push(Run {
            experiment,
            regime: &last.regime,
            target: last.target,
            seed,
            last,
        });
    }
    let n_runs = runs.len();

    // Dense baseline: step-0 test top-1, averaged per seed then over seeds.
    let mut dense_by_seed: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.step == 0 && r.test_top1.is_finite())
    {
        dense_by_seed.entry(r.seed).or_default().push(r.test_top1);
    }
    let mut dense_vals = Vec::new();
    for (seed, v) in &mut dense_by_seed {
        v.sort_by(f64::total_cmp);
        let (lo, hi) = v
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        if hi - lo > 1e-9 {
            warnings.push(format!("seed {seed}: step-0 (dense) test accuracy differs across experiments ({} to {}); their mean is used", pct(lo), pct(hi)));
        }
        dense_vals.push(mean_of(v.iter().copied()));
    }
    let dense = stats::describe(&dense_vals).map(|Describe { n, mean, std, ci95 }| DenseSummary {
        n,
        mean,
        std,
        ci95,
    });

    // (target, regime) → experiment → runs.
    let mut cells_raw: BTreeMap<i64, (f64, ByRegime)> = BTreeMap::new();
    for run in &runs {
        let e = cells_raw
            .entry(target_key(run.target))
            .or_insert((run.target, BTreeMap::new()));
        e.1.entry(run.regime)
            .or_default()
            .entry(run.experiment)
            .or_default()
            .push(run);
    }

    let mut targets = Vec::new();
    for (target, regimes) in cells_raw.values() {
        let target = *target;
        let mut cells = BTreeMap::new();
        for (&regime, configs) in regimes {
            let mut summaries: Vec<(ConfigSummary, Vec<SeedValue>)> = configs
                .iter()
                .map(|(&experiment, runs)| {
                    let seeds: Vec<SeedValue> = runs
                        .iter()
                        .map(|r| SeedValue {
                            seed: r.seed,
                            test_top1: r.last.test_top1,
                            val_top1: r.last.val_top1,
                            cum_epochs: r.last.cum_epochs,
                            cum_train_flops: r.last.cum_train_flops,
                            sparsity: r.last.sparsity,
                        })
                        .collect();
                    let test: Vec<f64> = seeds.iter().map(|s| s.test_top1).collect();
                    let c = ConfigSummary {
                        experiment: experiment.to_string(),
                        n: seeds.len(),
                        val_mean: mean_of(seeds.iter().map(|s| s.val_top1)),
                        test_mean: mean_of(test.iter().copied()),
                        test_ci95: stats::ci95_half_width(&test),
                        epochs: mean_of(seeds.iter().map(|s| s.cum_epochs as f64)),
                        train_flops: mean_of(seeds.iter().map(|s| s.cum_train_flops)),
                        sparsity: mean_of(seeds.iter().map(|s| s.sparsity)),
                        selected: false,
                    };
                    (c, seeds)
                })
                .collect();
            // Best selection metric; ties → more seeds, then smaller experiment id (already sorted).
            let metric = |c: &ConfigSummary| {
                if opts.select_on_validation {
                    c.val_mean
                } else {
                    c.test_mean
                }
            };
            let mut best = 0;
            for i in 1..summaries.len() {
                let (a, b) = (&summaries[i].0, &summaries[best].0);
                if metric(a) > metric(b) || (metric(a) == metric(b) && a.n > b.n) {
                    best = i;
                }
            }
            summaries[best].0.selected = true;
            let seeds = summaries[best].1.clone();
            let sel = summaries[best].0.clone();
            let test: Vec<f64> = seeds.iter().map(|s| s.test_top1).collect();
            let d = stats::describe(&test).expect("finite, non-empty");
            cells.insert(
                regime.to_string(),
                CellSummary {
                    regime: regime.to_string(),
                    experiment: sel.experiment,
                    n: d.n,
                    mean: d.mean,
                    std: d.std,
                    ci95: d.ci95,
                    val_mean: sel.val_mean,
                    epochs: sel.epochs,
                    train_flops: sel.train_flops,
                    sparsity: sel.sparsity,
                    configurations: summaries.into_iter().map(|(c, _)| c).collect(),
                    seeds,
                },
            );
        }
        targets.push(compare_target(target, cells, &mut warnings));
    }

    let crossover = crossover(&targets, opts);
    let recommendations_by_target: Vec<Recommendation> = targets
        .iter()
        .map(|t| recommend(&targets, t.target, opts.epoch_budget))
        .collect();
    let recommendation = match opts.recommend_target {
        Some(t) => {
            let mut r = recommend(&targets, t, opts.epoch_budget);
            r.requested_target = Some(t);
            r
        }
        None => general_recommendation(&recommendations_by_target, opts.epoch_budget),
    };

    Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        test: TEST_NAME.into(),
        alpha: ALPHA,
        power: POWER,
        selection: if opts.select_on_validation {
            "per (target, regime), the configuration (experiment id) with the best mean validation top-1; its test top-1 is reported".into()
        } else {
            "per (target, regime), the configuration (experiment id) with the best mean test top-1 (as in the paper; optimistic)".into()
        },
        options: opts.clone(),
        runs: n_runs,
        dense,
        targets,
        crossover,
        recommendation,
        recommendations_by_target,
        warnings,
        failed: Vec::new(),
        config: serde_json::Value::Null,
    }
}

fn compare_target(
    target: f64,
    cells: BTreeMap<String, CellSummary>,
    warnings: &mut Vec<String>,
) -> TargetSummary {
    let mut order: Vec<&CellSummary> = cells.values().collect();
    order.sort_by(|a, b| {
        b.mean
            .total_cmp(&a.mean)
            .then_with(|| a.regime.cmp(&b.regime))
    });
    let best = order[0];
    let comparisons: Vec<Comparison> = order[1..]
        .iter()
        .map(|other| {
            let t = paired(best, other);
            if let Some(t) = &t
                && (t.n < best.n || t.n < other.n)
            {
                warnings.push(format!(
                    "target {}: {} vs {} share {} of {}/{} seeds; only the shared seeds are compared",
                    pct(target), best.regime, other.regime, t.n, best.n, other.n
                ));
            }
            match t {
                Some(t) => Comparison {
                    regime: other.regime.clone(),
                    difference: t.mean_diff,
                    ci95: t.ci95,
                    n_pairs: t.n,
                    p_value: t.p_value,
                    significant: t.significant(ALPHA),
                    min_detectable_difference: t.min_detectable_difference,
                    note: t.note,
                },
                None => Comparison {
                    regime: other.regime.clone(),
                    difference: best.mean - other.mean,
                    ci95: None,
                    n_pairs: 0,
                    p_value: None,
                    significant: false,
                    min_detectable_difference: None,
                    note: Some("no seed in common: no paired test (difference is of unpaired means)".into()),
                },
            }
        })
        .collect();

    let mut tied: Vec<&CellSummary> = vec![best];
    for (c, other) in comparisons.iter().zip(&order[1..]) {
        if !c.significant {
            tied.push(other);
        }
    }
    let cheapest = *tied
        .iter()
        .min_by(|a, b| {
            a.epochs
                .total_cmp(&b.epochs)
                .then_with(|| b.mean.total_cmp(&a.mean))
                .then_with(|| a.regime.cmp(&b.regime))
        })
        .expect("non-empty");
    let epochs_ratio = (cheapest.epochs > 0.0).then(|| best.epochs / cheapest.epochs);

    let first = comparisons.first();
    let significant = first.is_some_and(|c| c.significant);
    let winner = significant.then(|| best.regime.clone());
    let statement = match first {
        None => format!(
            "only {} was measured at this target: nothing to compare",
            best.regime
        ),
        Some(c) if c.significant => format!(
            "{} wins: {} over {} ({} mean {} vs {}; {}, {}, n = {})",
            best.regime,
            pp(c.difference),
            c.regime,
            "test top-1",
            pct(best.mean),
            pct(cells[&c.regime].mean),
            TEST_NAME,
            pval(c.p_value),
            c.n_pairs
        ),
        Some(c) => {
            let why = match c.p_value {
                Some(_) => format!(
                    "{}, n = {}{}",
                    pval(c.p_value),
                    c.n_pairs,
                    c.min_detectable_difference
                        .map(|m| format!(
                            ", smallest detectable difference {}",
                            pp(m).trim_start_matches('+')
                        ))
                        .unwrap_or_default()
                ),
                None => format!("no test possible: {}", c.note.clone().unwrap_or_default()),
            };
            let cost = if cheapest.regime == best.regime {
                format!(
                    "{} has the best mean and is also the cheapest of the tied regimes",
                    best.regime
                )
            } else {
                match epochs_ratio {
                    // "1.0× fewer" reads as a contradiction; a ratio that rounds to 1.0 is
                    // stated as the epoch counts alone.
                    Some(r) if r < 1.05 => format!(
                        "the cheaper regime {} needs slightly fewer epochs ({:.1} vs {:.1})",
                        cheapest.regime, cheapest.epochs, best.epochs
                    ),
                    Some(r) => format!(
                        "the cheaper regime {} needs {:.1}× fewer epochs ({:.1} vs {:.1})",
                        cheapest.regime, r, cheapest.epochs, best.epochs
                    ),
                    None => format!(
                        "the cheaper regime {} needs no fine-tuning epochs",
                        cheapest.regime
                    ),
                }
            };
            format!(
                "no significant difference between {} (best mean {}) and {} ({}; {}); {}",
                best.regime,
                pct(best.mean),
                c.regime,
                pp(c.difference),
                why,
                cost
            )
        }
    };

    TargetSummary {
        target,
        winner,
        best_mean: best.regime.clone(),
        runner_up: first.map(|c| c.regime.clone()),
        difference: first.map(|c| c.difference),
        difference_ci95: first.and_then(|c| c.ci95),
        n_pairs: first.map_or(0, |c| c.n_pairs),
        p_value: first.and_then(|c| c.p_value),
        test: TEST_NAME.into(),
        significant,
        min_detectable_difference: first.and_then(|c| c.min_detectable_difference),
        tied_with_best: tied.iter().map(|c| c.regime.clone()).collect(),
        cheapest_tied: cheapest.regime.clone(),
        epochs_ratio,
        comparisons,
        statement,
        regimes: cells,
    }
}

fn crossover(targets: &[TargetSummary], opts: &AnalysisOptions) -> CrossoverSummary {
    let (os, it) = (&opts.one_shot_regime, &opts.iterative_regime);
    let mut points = Vec::new();
    for t in targets {
        if let (Some(a), Some(b)) = (t.regimes.get(it), t.regimes.get(os))
            && let Some(p) = paired(a, b)
        {
            points.push(CrossoverPoint {
                target: t.target,
                difference: p.mean_diff,
                ci95: p.ci95,
                n_pairs: p.n,
                p_value: p.p_value,
            });
        }
    }
    let diff: Vec<DiffPoint> = points
        .iter()
        .map(|p| DiffPoint::with_half_width(p.target, p.difference, p.ci95))
        .collect();
    let crossings = stats::crossings(&diff);
    let statement = if points.len() < 2 {
        format!(
            "crossover not assessable: {it} and {os} share seeds at {} target(s); at least 2 are needed",
            points.len()
        )
    } else if crossings.is_empty() {
        let (lo, hi) = (points[0].target, points[points.len() - 1].target);
        if points.iter().all(|p| p.difference > 0.0) {
            format!(
                "no crossover between {} and {}: {it} has the higher mean at every measured target",
                pct(lo),
                pct(hi)
            )
        } else {
            format!(
                "no crossover between {} and {}: {os} has the higher (or equal) mean at every measured target",
                pct(lo),
                pct(hi)
            )
        }
    } else {
        let parts: Vec<String> = crossings
            .iter()
            .map(|c| {
                let who = match c.direction {
                    stats::CrossDirection::Up => format!("{it} overtakes {os}"),
                    stats::CrossDirection::Down => format!("{os} overtakes {it}"),
                };
                let interval = match c.interval {
                    Some([a, b]) => format!(
                        " (95% band {}{} to {}{})",
                        if c.lower_open { "≤ " } else { "" },
                        pct(a),
                        if c.upper_open { "≥ " } else { "" },
                        pct(b)
                    ),
                    None => " (no interval: some CI is undefined)".into(),
                };
                format!(
                    "{who} at ≈ {} sparsity{interval}, between measured targets {} and {}",
                    pct(c.estimate),
                    pct(c.between[0]),
                    pct(c.between[1])
                )
            })
            .collect();
        parts.join("; ")
    };
    CrossoverSummary {
        one_shot: os.clone(),
        iterative: it.clone(),
        method: format!(
            "d(target) = paired mean of {it} − {os} final test top-1 over shared seeds, with its 95% t CI. \
             A crossing is a sign change of d between adjacent measured targets (≤0 → >0 or >0 → ≤0); \
             its estimate is the zero of the straight line between them. Its interval is the connected \
             range of targets around the estimate where the linearly interpolated CI band contains 0 \
             (the difference is not distinguishable from zero there); an end marked open reaches the \
             first or last measured target."
        ),
        points,
        crossings,
        statement,
    }
}

fn evidence(
    cells: &BTreeMap<String, CellSummary>,
    rec: Option<&CellSummary>,
    budget: Option<f64>,
) -> Vec<Evidence> {
    cells
        .values()
        .map(|c| {
            let vs = rec
                .filter(|r| r.regime != c.regime)
                .and_then(|r| paired(r, c));
            Evidence {
                regime: c.regime.clone(),
                experiment: c.experiment.clone(),
                mean: c.mean,
                ci95: c.ci95,
                n: c.n,
                epochs: c.epochs,
                train_flops: c.train_flops,
                within_budget: budget.is_none_or(|b| c.epochs <= b),
                difference_vs_recommended: vs.as_ref().map(|t| t.mean_diff),
                p_value_vs_recommended: vs.and_then(|t| t.p_value),
            }
        })
        .collect()
}

fn recommend(targets: &[TargetSummary], requested: f64, budget: Option<f64>) -> Recommendation {
    let mut rec = Recommendation {
        requested_target: None,
        epoch_budget: budget,
        measured_target: None,
        regime: None,
        experiment: None,
        basis: "no_data".into(),
        text: "No measurements".into(),
        evidence: vec![],
    };
    // Nearest measured target; ties go to the higher (more conservative) one.
    let Some(t) = targets.iter().min_by(|a, b| {
        (a.target - requested)
            .abs()
            .total_cmp(&(b.target - requested).abs())
            .then_with(|| b.target.total_cmp(&a.target))
    }) else {
        return rec;
    };
    rec.measured_target = Some(t.target);
    let at = if target_key(t.target) == target_key(requested) {
        format!("At {} sparsity", pct(t.target))
    } else {
        format!(
            "At {} sparsity (nearest measured target to the requested {}; no interpolation)",
            pct(t.target),
            pct(requested)
        )
    };
    let budget_txt = budget
        .map(|b| format!(" within {b:.0} epochs"))
        .unwrap_or_default();
    let feasible: Vec<&CellSummary> = t
        .regimes
        .values()
        .filter(|c| budget.is_none_or(|b| c.epochs <= b))
        .collect();
    if feasible.is_empty() {
        let cheapest = t
            .regimes
            .values()
            .min_by(|a, b| a.epochs.total_cmp(&b.epochs))
            .expect("non-empty target");
        rec.basis = "none_within_budget".into();
        rec.text = format!(
            "{at}: no measured regime fits{budget_txt}; the cheapest is {} with {:.1} epochs ({} test top-1)",
            cheapest.regime,
            cheapest.epochs,
            pct(cheapest.mean)
        );
        rec.evidence = evidence(&t.regimes, None, budget);
        return rec;
    }
    let mut order = feasible.clone();
    order.sort_by(|a, b| {
        b.mean
            .total_cmp(&a.mean)
            .then_with(|| a.regime.cmp(&b.regime))
    });
    let best = order[0];
    let tests: Vec<(&CellSummary, Option<PairedTest>)> =
        order[1..].iter().map(|c| (*c, paired(best, c))).collect();
    let mut tied = vec![best];
    tied.extend(
        tests
            .iter()
            .filter(|(_, t)| !t.as_ref().is_some_and(|t| t.significant(ALPHA)))
            .map(|(c, _)| *c),
    );
    let fmt_cell = |c: &CellSummary| {
        format!(
            "{} {}{} (n = {}), {:.1} epochs, {:.3e} training FLOPs",
            c.regime,
            pct(c.mean),
            c.ci95.map(|h| format!(" ± {}", pct(h))).unwrap_or_default(),
            c.n,
            c.epochs,
            c.train_flops
        )
    };
    let chosen = if order.len() == 1 {
        rec.basis = "only_candidate".into();
        rec.text = format!(
            "{at}{budget_txt}: {} is the only measured candidate: {}",
            best.regime,
            fmt_cell(best)
        );
        best
    } else if tied.len() == 1 {
        let worst_p = tests
            .iter()
            .filter_map(|(_, t)| t.as_ref().and_then(|t| t.p_value))
            .fold(0.0, f64::max);
        rec.basis = "significantly_best".into();
        rec.text = format!(
            "{at}{budget_txt}: use {}: it is significantly better than every other candidate ({}, largest p = {:.3}); {}",
            best.regime,
            TEST_NAME,
            worst_p,
            fmt_cell(best)
        );
        best
    } else {
        let cheapest = *tied
            .iter()
            .min_by(|a, b| {
                a.epochs
                    .total_cmp(&b.epochs)
                    .then_with(|| b.mean.total_cmp(&a.mean))
                    .then_with(|| a.regime.cmp(&b.regime))
            })
            .expect("non-empty");
        rec.basis = "tied_cheapest".into();
        let others: Vec<&str> = tied
            .iter()
            .filter(|c| c.regime != cheapest.regime)
            .map(|c| c.regime.as_str())
            .collect();
        rec.text = format!(
            "{at}{budget_txt}: use {}: no significant difference from {} ({}), and it is the cheapest of them; {}; best mean {}",
            cheapest.regime,
            others.join(", "),
            TEST_NAME,
            fmt_cell(cheapest),
            fmt_cell(best)
        );
        cheapest
    };
    rec.regime = Some(chosen.regime.clone());
    rec.experiment = Some(chosen.experiment.clone());
    rec.evidence = evidence(&t.regimes, Some(chosen), budget);
    rec
}

fn general_recommendation(by_target: &[Recommendation], budget: Option<f64>) -> Recommendation {
    let parts: Vec<String> = by_target
        .iter()
        .map(|r| {
            format!(
                "{} → {}",
                r.measured_target.map(pct).unwrap_or_default(),
                r.regime.as_deref().unwrap_or("none")
            )
        })
        .collect();
    let regimes: BTreeSet<&str> = by_target
        .iter()
        .filter_map(|r| r.regime.as_deref())
        .collect();
    Recommendation {
        requested_target: None,
        epoch_budget: budget,
        measured_target: None,
        regime: None,
        experiment: None,
        basis: "no_target_requested".into(),
        text: if parts.is_empty() {
            "No measurements".into()
        } else {
            format!(
                "No target requested; per measured target (significant winner, else the cheapest regime tied with the best mean): {} ({} distinct)",
                parts.join(", "),
                regimes.len()
            )
        },
        evidence: vec![],
    }
}

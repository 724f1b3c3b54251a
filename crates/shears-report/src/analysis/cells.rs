//! Runs → one (target, regime) cell each: the configuration (experiment id) kept when a regime
//! was run with several, and its results over seeds.

use std::collections::BTreeMap;

use shears_core::stats;

use super::runs::Run;
use super::{
    AnalysisOptions, CellSize, CellSummary, ConfigSummary, DenseSummary, SeedValue, mean_of,
    target_key,
};
use crate::Measure;

/// Regime → experiment id → runs, at one target.
pub(super) type ByRegime<'r, 'a> = BTreeMap<&'a str, BTreeMap<&'a str, Vec<&'r Run<'a>>>>;

/// Runs grouped by target (keyed by the rounded target, holding the first exact value seen),
/// then by regime and experiment id.
pub(super) fn group_by_target<'r, 'a>(
    runs: &'r [Run<'a>],
) -> BTreeMap<i64, (f64, ByRegime<'r, 'a>)> {
    let mut cells_raw: BTreeMap<i64, (f64, ByRegime)> = BTreeMap::new();
    for run in runs {
        let e = cells_raw
            .entry(target_key(run.target))
            .or_insert((run.target, BTreeMap::new()));
        e.1.entry(run.regime)
            .or_default()
            .entry(run.experiment)
            .or_default()
            .push(run);
    }
    cells_raw
}

/// One cell per regime at a target, each from its selected configuration.
pub(super) fn select_cells(
    regimes: &ByRegime,
    opts: &AnalysisOptions,
) -> BTreeMap<String, CellSummary> {
    let mut cells = BTreeMap::new();
    for (&regime, configs) in regimes {
        let mut summaries: Vec<(ConfigSummary, Vec<SeedValue>)> = configs
            .iter()
            .map(|(&experiment, runs)| config_summary(experiment, runs, opts.measure))
            .collect();
        let best = selected(&summaries, opts);
        summaries[best].0.selected = true;
        let mut c = cell(regime, summaries, best, opts.measure);
        if opts.size_measure.is_some() {
            let runs = &configs[c.experiment.as_str()];
            c.size = Some(CellSize {
                params: mean_of(runs.iter().map(|r| r.last.remaining_params as f64)),
                flops: mean_of(runs.iter().map(|r| r.last.flops_effective as f64)),
            });
        }
        cells.insert(regime.to_string(), c);
    }
    cells
}

/// One configuration's means of the measure over its seeds, and the per-seed values.
fn config_summary(
    experiment: &str,
    runs: &[&Run],
    measure: Measure,
) -> (ConfigSummary, Vec<SeedValue>) {
    let ppl = measure == Measure::Perplexity;
    let seeds: Vec<SeedValue> = runs
        .iter()
        .map(|r| SeedValue {
            seed: r.seed,
            test_top1: r.last.test_top1,
            val_top1: r.last.val_top1,
            test_ppl: ppl.then(|| measure.test(r.last)),
            val_ppl: ppl.then(|| measure.val(r.last)),
            cum_epochs: r.last.cum_epochs,
            cum_train_flops: r.last.cum_train_flops,
            sparsity: r.last.sparsity,
            cum_wall_s: Some(r.last.cum_wall_s),
            pruned_only: r
                .single_step
                .and_then(|row| measure.pruned_test(row))
                .filter(|x| x.is_finite()),
        })
        .collect();
    let test: Vec<f64> = seeds.iter().map(|s| measure.seed_test(s)).collect();
    let c = ConfigSummary {
        experiment: experiment.to_string(),
        n: seeds.len(),
        val_mean: mean_of(seeds.iter().map(|s| measure.seed_val(s))),
        test_mean: mean_of(test.iter().copied()),
        test_ci95: stats::ci95_half_width(&test),
        epochs: mean_of(seeds.iter().map(|s| s.cum_epochs as f64)),
        train_flops: mean_of(seeds.iter().map(|s| s.cum_train_flops)),
        sparsity: mean_of(seeds.iter().map(|s| s.sparsity)),
        wall_s: seeds
            .iter()
            .map(|s| s.cum_wall_s)
            .collect::<Option<Vec<f64>>>()
            .map(|w| mean_of(w.into_iter())),
        selected: false,
    };
    (c, seeds)
}

/// Index of the configuration with the best selection metric (highest top-1, lowest
/// perplexity); ties → more seeds, then the smaller experiment id (the order they come in).
fn selected(summaries: &[(ConfigSummary, Vec<SeedValue>)], opts: &AnalysisOptions) -> usize {
    let metric = |c: &ConfigSummary| {
        opts.measure.sign()
            * if opts.select_on_validation {
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
    best
}

/// The cell of `regime`: the selected configuration's test measure over seeds, with every
/// configuration listed.
fn cell(
    regime: &str,
    summaries: Vec<(ConfigSummary, Vec<SeedValue>)>,
    best: usize,
    measure: Measure,
) -> CellSummary {
    let seeds = summaries[best].1.clone();
    let sel = summaries[best].0.clone();
    let test: Vec<f64> = seeds.iter().map(|s| measure.seed_test(s)).collect();
    let d = stats::describe(&test).expect("finite, non-empty");
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
        wall_s: sel.wall_s,
        size: None,
        pruned_only: pruned_only(&seeds),
        configurations: summaries.into_iter().map(|(c, _)| c).collect(),
        seeds,
    }
}

/// The not-fine-tuned measure over `seeds` when every seed has a finite one (a summary of
/// some seeds would be biased toward those whose pruned model still worked).
fn pruned_only(seeds: &[SeedValue]) -> Option<DenseSummary> {
    let values: Vec<f64> = seeds.iter().map(|s| s.pruned_only).collect::<Option<_>>()?;
    stats::describe(&values).map(|stats::Describe { n, mean, std, ci95 }| DenseSummary {
        n,
        mean,
        std,
        ci95,
    })
}

/// Largest relative difference in size tolerated between regimes compared at one target.
const SIZE_TOLERANCE: f64 = 0.01;

/// A warning when the structured cells at `target` differ in the measure their targets count
/// (`opts.size_measure`; parameters for `channels`) by more than [`SIZE_TOLERANCE`] of the
/// larger: their accuracies (or perplexities) then compare different models.
pub(super) fn size_warning(
    target: f64,
    cells: &BTreeMap<String, CellSummary>,
    opts: &AnalysisOptions,
) -> Option<String> {
    let measure = opts.size_measure.as_deref()?;
    let sized: Vec<(&str, &CellSize)> = cells
        .values()
        .filter_map(|c| Some((c.regime.as_str(), c.size.as_ref()?)))
        .collect();
    let (unit, of): (&str, fn(&CellSize) -> f64) = match measure {
        "flops" => ("FLOPs", |s| s.flops),
        _ => ("parameters", |s| s.params),
    };
    let v: Vec<f64> = sized.iter().map(|(_, s)| of(s)).collect();
    let hi = v.iter().copied().fold(f64::MIN, f64::max);
    let lo = v.iter().copied().fold(f64::MAX, f64::min);
    let spread = if hi > 0.0 { (hi - lo) / hi } else { 0.0 };
    if sized.len() < 2 || spread <= SIZE_TOLERANCE {
        return None;
    }
    let sizes: Vec<String> = sized
        .iter()
        .map(|(r, s)| format!("{r} {:.0} params, {:.3e} FLOPs", s.params, s.flops))
        .collect();
    Some(format!(
        "target {} ({measure}): the regimes end at different sizes ({}; {:.1}% apart in {unit}), so their {} compare different models",
        super::pct(target),
        sizes.join("; "),
        100.0 * spread,
        opts.measure.qualities(),
    ))
}

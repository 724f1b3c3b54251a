//! Rows → finished runs, and the dense baseline of step 0.

use std::collections::BTreeMap;

use shears_core::results::StepRow;
use shears_core::stats::{self, Describe};

use super::{DenseSummary, mean_of, pct, target_key};

/// One experiment id with one seed, represented by its last step.
pub(super) struct Run<'a> {
    pub(super) experiment: &'a str,
    pub(super) regime: &'a str,
    pub(super) target: f64,
    pub(super) seed: u64,
    pub(super) last: &'a StepRow,
}

/// Groups `rows` by (experiment, seed) and keeps each run's last step; runs with only the
/// dense step or a non-finite final accuracy are dropped with a warning.
pub(super) fn finished_runs<'a>(rows: &'a [StepRow], warnings: &mut Vec<String>) -> Vec<Run<'a>> {
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
    runs
}

/// Step-0 test top-1, averaged per seed (warning when experiments disagree) then over seeds.
pub(super) fn dense_baseline(rows: &[StepRow], warnings: &mut Vec<String>) -> Option<DenseSummary> {
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
    stats::describe(&dense_vals).map(|Describe { n, mean, std, ci95 }| DenseSummary {
        n,
        mean,
        std,
        ci95,
    })
}

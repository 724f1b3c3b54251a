//! Rows → finished runs, and the dense baseline of step 0.

use std::collections::BTreeMap;

use shears_core::results::StepRow;
use shears_core::stats::{self, Describe};

use super::{DenseSummary, mean_of, target_key};
use crate::Measure;

/// One experiment id with one seed, represented by its last step.
pub(super) struct Run<'a> {
    pub(super) experiment: &'a str,
    pub(super) regime: &'a str,
    pub(super) target: f64,
    pub(super) seed: u64,
    pub(super) last: &'a StepRow,
    /// The pruning step's row when the run took one step from the dense model to its target
    /// (one-shot): its pre-fine-tuning metrics are the "not fine-tuned" point.
    pub(super) single_step: Option<&'a StepRow>,
}

/// Groups `rows` by (experiment, seed) and keeps each run's last step; runs with only the
/// dense step or a non-finite final measure (for perplexity: an infinite or NaN loss) are
/// dropped with a warning.
pub(super) fn finished_runs<'a>(
    rows: &'a [StepRow],
    measure: Measure,
    warnings: &mut Vec<String>,
) -> Vec<Run<'a>> {
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
        if let Some(why) = non_finite(last, measure) {
            warnings.push(format!("run {experiment}/seed {seed}: {why}; run ignored"));
            continue;
        }
        runs.push(Run {
            experiment,
            regime: &last.regime,
            target: last.target,
            seed,
            last,
            single_step: (last.step == 1).then_some(last),
        });
    }
    runs
}

/// Why the final step `last` cannot be counted, if it cannot: its measure is not finite (a
/// perplexity from an infinite or NaN loss, or one past `f64`). A perplexity summary keeps
/// top-1 too, so that must be finite as well (it always is when the loss is).
fn non_finite(last: &StepRow, measure: Measure) -> Option<String> {
    let ppl_finite = measure.test(last).is_finite() && measure.val(last).is_finite();
    if measure == Measure::Perplexity && !ppl_finite {
        return Some(format!(
            "non-finite final perplexity (test_loss {}, val_loss {})",
            last.test_loss, last.val_loss
        ));
    }
    (!(last.test_top1.is_finite() && last.val_top1.is_finite()))
        .then(|| "non-finite final accuracy".to_string())
}

/// Step-0 test measure, averaged per seed (warning when experiments disagree) then over seeds.
pub(super) fn dense_baseline(
    rows: &[StepRow],
    measure: Measure,
    warnings: &mut Vec<String>,
) -> Option<DenseSummary> {
    let mut dense_by_seed: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.step == 0 && measure.test(r).is_finite())
    {
        dense_by_seed
            .entry(r.seed)
            .or_default()
            .push(measure.test(r));
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
            warnings.push(format!(
                "seed {seed}: step-0 (dense) test {} differs across experiments ({} to {}); their mean is used",
                measure.quality(),
                measure.fmt(lo),
                measure.fmt(hi)
            ));
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

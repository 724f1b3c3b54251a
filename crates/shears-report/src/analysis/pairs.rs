//! The regimes at one target compared pairwise with the best mean: paired t-tests over shared
//! seeds, the regimes tied with the best, the cheapest of them, and the one-sentence verdict.

use std::collections::BTreeMap;

use shears_core::stats::{self, PairedTest};

use super::verdicts::{Outcome, Verdicts, shared};
use super::{CellSummary, Comparison, TEST_NAME, TargetSummary, pct, pval};
use crate::Measure;

/// Paired t-test of `a` − `b` final test measure over the seeds they share, in the measure's
/// own units (its sign is not oriented: for perplexity a negative difference favours `a`).
pub(super) fn paired(a: &CellSummary, b: &CellSummary, m: Measure) -> Option<PairedTest> {
    let (xa, xb) = shared(a, b, m);
    stats::paired_t_test(&xa, &xb).ok()
}

/// Cells from the best mean to the worst (descending top-1, ascending perplexity), ties by
/// regime name.
pub(super) fn by_mean<'c>(
    cells: impl IntoIterator<Item = &'c CellSummary>,
    m: Measure,
) -> Vec<&'c CellSummary> {
    let mut order: Vec<&CellSummary> = cells.into_iter().collect();
    order.sort_by(|a, b| {
        (m.sign() * b.mean)
            .total_cmp(&(m.sign() * a.mean))
            .then_with(|| a.regime.cmp(&b.regime))
    });
    order
}

/// The cell with the fewest mean epochs; ties → better mean, then regime name.
pub(super) fn cheapest<'c>(cells: &[&'c CellSummary], m: Measure) -> &'c CellSummary {
    cells
        .iter()
        .min_by(|a, b| {
            a.epochs
                .total_cmp(&b.epochs)
                .then_with(|| (m.sign() * b.mean).total_cmp(&(m.sign() * a.mean)))
                .then_with(|| a.regime.cmp(&b.regime))
        })
        .expect("non-empty")
}

/// Everything measured at one target: the best mean against every other regime, each pair's
/// verdict from the report-wide family, and the recommended regime with its verdict.
pub(super) fn compare_target(
    target: f64,
    cells: BTreeMap<String, CellSummary>,
    verdicts: &Verdicts,
    warnings: &mut Vec<String>,
) -> TargetSummary {
    let m = verdicts.measure;
    let order = by_mean(cells.values(), m);
    let best = order[0];
    let comparisons: Vec<Comparison> = order[1..]
        .iter()
        .map(|other| compare(target, best, other, verdicts, warnings))
        .collect();

    let mut tied: Vec<&CellSummary> = vec![best];
    for (c, other) in comparisons.iter().zip(&order[1..]) {
        if !c.significant {
            tied.push(other);
        }
    }
    let cheapest = cheapest(&tied, m);
    let epochs_ratio = (cheapest.epochs > 0.0).then(|| best.epochs / cheapest.epochs);
    let choice = choose(target, &order, verdicts);

    let first = comparisons.first();
    let significant = first.is_some_and(|c| c.significant);
    let winner = (choice.verdict == "winner").then(|| choice.regime.regime.clone());
    let statement = statement(best, &comparisons, &cells, &choice, verdicts);

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
        recommended: choice.regime.regime.clone(),
        verdict: choice.verdict.into(),
        seeds_needed: choice.seeds_needed,
        comparisons,
        statement,
        regimes: cells,
    }
}

/// The regime to use among `order` (descending mean) and how sure that is.
pub(super) struct Choice<'c> {
    pub regime: &'c CellSummary,
    /// `winner`, `equivalent` or `inconclusive` (`only` for a single candidate).
    pub verdict: &'static str,
    /// Seeds per regime that would resolve the inconclusive pairs at the margin.
    pub seeds_needed: Option<usize>,
}

/// The best mean, unless a cheaper regime (fewer mean epochs) is shown *equivalent* to it —
/// never one that is merely not significantly different. Its verdict against every other
/// candidate: `winner` if better than all, `equivalent` if better than or equivalent to all,
/// else `inconclusive` with the seeds that would resolve the open pairs.
pub(super) fn choose<'c>(
    target: f64,
    order: &[&'c CellSummary],
    verdicts: &Verdicts,
) -> Choice<'c> {
    let best = order[0];
    if order.len() == 1 {
        return Choice {
            regime: best,
            verdict: "only",
            seeds_needed: None,
        };
    }
    // Shown within ± the margin of the best (TOST), even if also significantly (negligibly) worse.
    let equivalent_to_best: Vec<&CellSummary> = order[1..]
        .iter()
        .copied()
        .filter(|c| {
            verdicts
                .get(target, &c.regime, &best.regime)
                .is_some_and(|(_, n)| n.within_margin())
        })
        .collect();
    let s = verdicts.measure.sign();
    let chosen = equivalent_to_best
        .iter()
        .copied()
        .filter(|c| c.epochs < best.epochs)
        .min_by(|a, b| {
            a.epochs
                .total_cmp(&b.epochs)
                .then_with(|| (s * b.mean).total_cmp(&(s * a.mean)))
        })
        .unwrap_or(best);
    let (mut all_better, mut resolved, mut needed) = (true, true, Some(0usize));
    for other in order.iter().filter(|c| c.regime != chosen.regime) {
        match verdicts.get(target, &chosen.regime, &other.regime) {
            Some((Outcome::Better, _)) => {}
            Some((_, n)) if n.within_margin() => all_better = false,
            Some((Outcome::Inconclusive { seeds_needed }, _)) => {
                (all_better, resolved) = (false, false);
                needed = needed.zip(seeds_needed).map(|(a, b)| a.max(b));
            }
            _ => (all_better, resolved, needed) = (false, false, None),
        }
    }
    let verdict = match (all_better, resolved) {
        (true, _) => "winner",
        (false, true) => "equivalent",
        (false, false) => "inconclusive",
    };
    Choice {
        regime: chosen,
        verdict,
        seeds_needed: if resolved { None } else { needed },
    }
}

/// `best` against `other`, paired over shared seeds (warning when not all seeds are shared),
/// with the verdict of the report-wide family.
fn compare(
    target: f64,
    best: &CellSummary,
    other: &CellSummary,
    verdicts: &Verdicts,
    warnings: &mut Vec<String>,
) -> Comparison {
    let t = paired(best, other, verdicts.measure);
    if let Some(t) = &t
        && (t.n < best.n || t.n < other.n)
    {
        warnings.push(format!(
            "target {}: {} vs {} share {} of {}/{} seeds; only the shared seeds are compared",
            pct(target),
            best.regime,
            other.regime,
            t.n,
            best.n,
            other.n
        ));
    }
    let judged = verdicts.get(target, &best.regime, &other.regime);
    let outcome = judged.map(|(o, _)| o);
    let numbers = judged.map(|(_, n)| n);
    let seeds_needed = match outcome {
        Some(Outcome::Inconclusive { seeds_needed }) => seeds_needed,
        _ => None,
    };
    match t {
        Some(t) => Comparison {
            regime: other.regime.clone(),
            difference: t.mean_diff,
            ci95: t.ci95,
            n_pairs: t.n,
            p_value: t.p_value,
            p_adjusted: numbers.and_then(|n| n.p_adjusted()),
            equivalence_p_adjusted: numbers.and_then(|n| n.tost_p_adjusted()),
            significant: outcome == Some(Outcome::Better),
            verdict: outcome.map_or("untested", Outcome::word).into(),
            seeds_needed,
            min_detectable_difference: t.min_detectable_difference,
            note: t.note,
        },
        None => Comparison {
            regime: other.regime.clone(),
            difference: best.mean - other.mean,
            ci95: None,
            n_pairs: 0,
            p_value: None,
            p_adjusted: None,
            equivalence_p_adjusted: None,
            significant: false,
            verdict: "untested".into(),
            seeds_needed: None,
            min_detectable_difference: None,
            note: Some(
                "no seed in common: no paired test (difference is of unpaired means)".into(),
            ),
        },
    }
}

/// The one-sentence answer at a target, leading with what to use.
fn statement(
    best: &CellSummary,
    comparisons: &[Comparison],
    cells: &BTreeMap<String, CellSummary>,
    choice: &Choice,
    verdicts: &Verdicts,
) -> String {
    let (m, adjusted) = (verdicts.measure, verdicts.adjusted);
    let chosen = choice.regime;
    match choice.verdict {
        "only" => format!(
            "only {} was measured at this target: nothing to compare",
            best.regime
        ),
        "winner" => {
            let c = &comparisons[0];
            format!(
                "{} wins: {} {} {} ({} mean {} vs {}; {}, {}, {adjusted}: {}, n = {})",
                best.regime,
                m.fmt_diff(c.difference),
                m.over(),
                c.regime,
                m.name(),
                m.fmt(best.mean),
                m.fmt(cells[&c.regime].mean),
                TEST_NAME,
                pval(c.p_value),
                pval(c.p_adjusted),
                c.n_pairs
            )
        }
        "equivalent" if chosen.regime != best.regime => format!(
            "use {}: equivalent to the best mean {} within the margin (TOST) at {}; {} vs {}",
            chosen.regime,
            best.regime,
            cost(best, chosen),
            m.fmt(chosen.mean),
            m.fmt(best.mean)
        ),
        "equivalent" => format!(
            "use {} (best mean {}): every other regime is worse or equivalent within the margin (TOST)",
            best.regime,
            m.fmt(best.mean)
        ),
        _ => format!(
            "not resolved: {} has the best mean ({}), but {} — a difference of the margin needs {}",
            best.regime,
            m.fmt(best.mean),
            open_pairs(comparisons, m, adjusted),
            choice
                .seeds_needed
                .map(|n| format!("≈ {n} seeds"))
                .unwrap_or_else(|| "more seeds than can be estimated".into())
        ),
    }
}

/// The pairs still open (each one's difference to the best), with raw and adjusted p-values.
fn open_pairs(comparisons: &[Comparison], m: Measure, adjusted: &str) -> String {
    let open: Vec<String> = comparisons
        .iter()
        .filter(|c| c.verdict != "better" && c.verdict != "equivalent")
        .map(|c| {
            format!(
                "{} ({}; {}, {adjusted}: {})",
                c.regime,
                m.fmt_diff(-c.difference),
                pval(c.p_value),
                pval(c.p_adjusted)
            )
        })
        .collect();
    format!(
        "neither better than nor equivalent to {}",
        if open.is_empty() {
            "the rest".to_string()
        } else {
            open.join(", ")
        }
    )
}

/// What choosing `cheaper` instead of the best mean saves, in epochs and training FLOPs,
/// saying so when the two cost measures disagree.
pub(super) fn cost(best: &CellSummary, cheaper: &CellSummary) -> String {
    let epochs = if cheaper.epochs > 0.0 {
        format!(
            "{:.1}× fewer fine-tuning epochs ({:.1} vs {:.1})",
            best.epochs / cheaper.epochs,
            cheaper.epochs,
            best.epochs
        )
    } else {
        "no fine-tuning epochs".into()
    };
    let flops = if cheaper.train_flops > best.train_flops {
        format!(
            "{epochs}, although {:.1}× more training FLOPs ({:.3e} vs {:.3e}): the cost measures disagree",
            cheaper.train_flops / best.train_flops.max(1.0),
            cheaper.train_flops,
            best.train_flops
        )
    } else {
        epochs
    };
    match (cheaper.wall_s, best.wall_s) {
        (Some(c), Some(b)) if c > 0.0 && b > 0.0 => format!(
            "{flops}; measured fine-tuning time {c:.1} s vs {b:.1} s{}",
            if c > b {
                " (slower here: the wall clock disagrees)"
            } else {
                ""
            }
        ),
        _ => flops,
    }
}

//! The regimes at one target compared pairwise with the best mean: paired t-tests over shared
//! seeds, the regimes tied with the best, the cheapest of them, and the one-sentence verdict.

use std::collections::BTreeMap;

use shears_core::stats::{self, PairedTest};

use super::{ALPHA, CellSummary, Comparison, TEST_NAME, TargetSummary, pct, pp, pval};

/// Paired t-test of `a` − `b` final test top-1 over the seeds they share.
pub(super) fn paired(a: &CellSummary, b: &CellSummary) -> Option<PairedTest> {
    let bm: BTreeMap<u64, f64> = b.seeds.iter().map(|s| (s.seed, s.test_top1)).collect();
    let (xa, xb): (Vec<f64>, Vec<f64>) = a
        .seeds
        .iter()
        .filter_map(|s| bm.get(&s.seed).map(|&v| (s.test_top1, v)))
        .unzip();
    stats::paired_t_test(&xa, &xb).ok()
}

/// Cells by descending mean, ties by regime name.
pub(super) fn by_mean<'c>(
    cells: impl IntoIterator<Item = &'c CellSummary>,
) -> Vec<&'c CellSummary> {
    let mut order: Vec<&CellSummary> = cells.into_iter().collect();
    order.sort_by(|a, b| {
        b.mean
            .total_cmp(&a.mean)
            .then_with(|| a.regime.cmp(&b.regime))
    });
    order
}

/// The cell with the fewest mean epochs; ties → higher mean, then regime name.
pub(super) fn cheapest<'c>(cells: &[&'c CellSummary]) -> &'c CellSummary {
    cells
        .iter()
        .min_by(|a, b| {
            a.epochs
                .total_cmp(&b.epochs)
                .then_with(|| b.mean.total_cmp(&a.mean))
                .then_with(|| a.regime.cmp(&b.regime))
        })
        .expect("non-empty")
}

/// Everything measured at one target: the best mean against every other regime.
pub(super) fn compare_target(
    target: f64,
    cells: BTreeMap<String, CellSummary>,
    warnings: &mut Vec<String>,
) -> TargetSummary {
    let order = by_mean(cells.values());
    let best = order[0];
    let comparisons: Vec<Comparison> = order[1..]
        .iter()
        .map(|other| compare(target, best, other, warnings))
        .collect();

    let mut tied: Vec<&CellSummary> = vec![best];
    for (c, other) in comparisons.iter().zip(&order[1..]) {
        if !c.significant {
            tied.push(other);
        }
    }
    let cheapest = cheapest(&tied);
    let epochs_ratio = (cheapest.epochs > 0.0).then(|| best.epochs / cheapest.epochs);

    let first = comparisons.first();
    let significant = first.is_some_and(|c| c.significant);
    let winner = significant.then(|| best.regime.clone());
    let statement = statement(best, first, &cells, cheapest, epochs_ratio);

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

/// `best` against `other`, paired over shared seeds (warning when not all seeds are shared).
fn compare(
    target: f64,
    best: &CellSummary,
    other: &CellSummary,
    warnings: &mut Vec<String>,
) -> Comparison {
    let t = paired(best, other);
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
            note: Some(
                "no seed in common: no paired test (difference is of unpaired means)".into(),
            ),
        },
    }
}

/// The one-sentence verdict at a target; `first` is the best against the runner-up.
fn statement(
    best: &CellSummary,
    first: Option<&Comparison>,
    cells: &BTreeMap<String, CellSummary>,
    cheapest: &CellSummary,
    epochs_ratio: Option<f64>,
) -> String {
    match first {
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
        Some(c) => format!(
            "no significant difference between {} (best mean {}) and {} ({}; {}); {}",
            best.regime,
            pct(best.mean),
            c.regime,
            pp(c.difference),
            why_not_significant(c),
            cost(best, cheapest, epochs_ratio)
        ),
    }
}

/// The test's numbers behind "no significant difference", or why there was no test.
fn why_not_significant(c: &Comparison) -> String {
    match c.p_value {
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
    }
}

/// What choosing the cheapest tied regime instead of the best mean saves.
fn cost(best: &CellSummary, cheapest: &CellSummary, epochs_ratio: Option<f64>) -> String {
    if cheapest.regime == best.regime {
        return format!(
            "{} has the best mean and is also the cheapest of the tied regimes",
            best.regime
        );
    }
    match epochs_ratio {
        // "1.0× fewer" reads as a contradiction; a ratio that rounds to 1.0 is stated as the
        // epoch counts alone.
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
}

//! Every pair of regimes at every target judged at once: the paired t-tests are Holm-corrected
//! as one family over the whole report and the equivalence tests (TOST at the margin) as
//! another, so a report of many targets does not name a winner (or a tie) by chance.
//! docs/statistics.md gives the methods and their measured error rates.
//!
//! The tests see [`Measure::judged`] values: oriented so that "higher" is "better" (a lower
//! perplexity wins) and, for perplexity, divided by the best mean at the target so that the
//! one margin of the family is relative.

use std::collections::BTreeMap;

use shears_core::stats::{self, PairVerdict, Side, Verdict};

use super::{ALPHA, AnalysisOptions, CellSummary, target_key};
use crate::Measure;

/// The shared seeds' final test measure of `a` and `b`, in seed order.
pub(super) fn shared(a: &CellSummary, b: &CellSummary, m: Measure) -> (Vec<f64>, Vec<f64>) {
    let bm: BTreeMap<u64, f64> = b.seeds.iter().map(|s| (s.seed, m.seed_test(s))).collect();
    a.seeds
        .iter()
        .filter_map(|s| bm.get(&s.seed).map(|&v| (m.seed_test(s), v)))
        .unzip()
}

/// The best of the cells' means (highest top-1, lowest perplexity).
pub(super) fn best_mean<'c>(
    cells: impl IntoIterator<Item = &'c CellSummary>,
    m: Measure,
) -> Option<f64> {
    cells
        .into_iter()
        .map(|c| c.mean)
        .max_by(|a, b| (m.sign() * a).total_cmp(&(m.sign() * b)))
}

/// One pair's verdict seen from the regime asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Better,
    Worse,
    Equivalent,
    Inconclusive { seeds_needed: Option<usize> },
}

impl Outcome {
    /// The word `summary.json` uses.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Better => "better",
            Outcome::Worse => "worse",
            Outcome::Equivalent => "equivalent",
            Outcome::Inconclusive { .. } => "inconclusive",
        }
    }
}

/// The judged family, looked up by (target, regime, regime) in either order.
#[derive(Debug, Default)]
pub struct Verdicts {
    /// `(target key, a, b)` with `a < b` → the verdict of `a − b`.
    pairs: BTreeMap<(i64, String, String), PairVerdict>,
    /// "Holm-adjusted" or "design-adjusted": what the adjusted p-values are.
    pub adjusted: &'static str,
    /// The measure judged, for every later comparison of the report.
    pub measure: Measure,
}

impl Verdicts {
    /// Judges every pair of regimes sharing at least two seeds at each target, as one family:
    /// by Holm, or at each pair's look of `opts.sequential` (Bonferroni over the family), on
    /// [`Measure::judged`] values at `opts.margin`.
    pub fn judge(
        targets: &[(f64, &BTreeMap<String, CellSummary>)],
        opts: &AnalysisOptions,
    ) -> Self {
        let (m, sequential) = (opts.measure, opts.sequential);
        let mut keys = Vec::new();
        let mut samples = Vec::new();
        for (target, cells) in targets {
            let reference = m.margin_reference(best_mean(cells.values(), m).unwrap_or(1.0));
            let judged = |xs: Vec<f64>| -> Vec<f64> {
                xs.into_iter().map(|x| m.judged(x, reference)).collect()
            };
            let names: Vec<&String> = cells.keys().collect();
            for (i, a) in names.iter().enumerate() {
                for b in &names[i + 1..] {
                    let (xa, xb) = shared(&cells[*a], &cells[*b], m);
                    // A pair without a test (fewer than 2 shared seeds) is "untested".
                    if stats::paired_t_test(&xa, &xb).is_ok() {
                        keys.push((target_key(*target), (*a).clone(), (*b).clone()));
                        samples.push((judged(xa), judged(xb)));
                    }
                }
            }
        }
        let margin = opts.margin;
        let pairs: Vec<(&[f64], &[f64])> = samples
            .iter()
            .map(|(a, b)| (a.as_slice(), b.as_slice()))
            .collect();
        // Seeds for an open pair are planned at α over the family size (judge_family), the
        // level Holm asks of the smallest p, so "n seeds needed" is never fewer than ran.
        let judged = match sequential {
            None => stats::judge_family(&pairs, margin, ALPHA),
            Some(s) => {
                stats::judge_family_sequential(&pairs, margin, ALPHA, s.start, s.max, s.spending)
            }
        }
        .unwrap_or_default();
        Self {
            pairs: keys.into_iter().zip(judged).collect(),
            adjusted: super::adjusted_for(sequential.is_some()),
            measure: m,
        }
    }

    /// Number of pairs judged (the size of each Holm family).
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// The verdict of `a` against `b` at `target`, and its numbers (oriented `a − b`).
    pub fn get(&self, target: f64, a: &str, b: &str) -> Option<(Outcome, Oriented<'_>)> {
        let t = target_key(target);
        let (v, flipped) = match self.pairs.get(&(t, a.to_string(), b.to_string())) {
            Some(v) => (v, false),
            None => (self.pairs.get(&(t, b.to_string(), a.to_string()))?, true),
        };
        let ours = if flipped { Side::B } else { Side::A };
        let outcome = match v.verdict {
            Verdict::Better { side } if side == ours => Outcome::Better,
            Verdict::Better { .. } => Outcome::Worse,
            Verdict::Equivalent => Outcome::Equivalent,
            Verdict::Inconclusive { seeds_needed } => Outcome::Inconclusive { seeds_needed },
        };
        Some((outcome, Oriented { v }))
    }
}

/// A pair's adjusted p-values (the same from either side).
#[derive(Debug, Clone, Copy)]
pub struct Oriented<'v> {
    v: &'v PairVerdict,
}

impl Oriented<'_> {
    pub fn p_adjusted(&self) -> Option<f64> {
        self.v.p_adjusted
    }
    pub fn tost_p_adjusted(&self) -> Option<f64> {
        self.v.tost_p_adjusted
    }
    /// The difference is shown to lie within ± the margin (TOST), whatever its sign: also
    /// for a significant difference smaller than the margin.
    pub fn within_margin(&self) -> bool {
        self.v.tost_p_adjusted.is_some_and(|p| p < ALPHA)
    }
}

//! A group-sequential design for `--seeds auto`: start with a few seeds, add one seed at a time
//! to a comparison that is still inconclusive, stop as soon as it is resolved or at a declared
//! maximum — without the inflated error that testing after every seed at a fixed α would give.
//!
//! Looks are at n = `n_start`, …, `n_max` pairs, information fraction n / `n_max`. Each look
//! tests at a *nominal* level from Lan–DeMets alpha spending ([`one_sided_boundaries`]):
//! - "better": two one-sided tests at α/2 each (the two-sided paired t-test at nominal level
//!   2·(1 − Φ(c_k)) with c_k the boundary of a one-sided α/2 design);
//! - "equivalent": the TOST at the nominal level 1 − Φ(c_k) of a one-sided α design (each of
//!   its two one-sided tests is an α-level test of its own null).
//!
//! The boundaries assume normal statistics with known variance; at a handful of seeds the t
//! statistics make the control approximate, which is why the simulation tests measure the
//! real error rates (docs/statistics.md quotes them).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

use super::verdict::check_alpha;
use super::{
    POWER, PairVerdict, Side, Spending, StatsError, Verdict, judge, one_sided_boundaries,
    paired_t_test, seeds_needed, tost_paired,
};

/// One look of a [`SequentialDesign`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Look {
    /// Seeds (pairs) at this look.
    pub n: usize,
    /// n / n_max.
    pub information: f64,
    /// Two-sided nominal level of the paired t-test ("better" when p < this).
    pub better_level: f64,
    /// Nominal level of the TOST ("equivalent" when its p < this).
    pub equivalence_level: f64,
}

/// What to do with one comparison after a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum SeqDecision {
    /// Add a seed and look again.
    Continue,
    /// Resolved (better or equivalent), or inconclusive at `n_max`.
    Stop { verdict: Verdict },
}

/// Group-sequential paired comparison of two regimes with equivalence margin `margin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialDesign {
    pub alpha: f64,
    pub margin: f64,
    pub n_start: usize,
    pub n_max: usize,
    pub spending: Spending,
    looks: Vec<Look>,
}

impl SequentialDesign {
    /// A design with looks at `n_start..=n_max` seeds; `alpha` is the error rate of each claim
    /// of the comparison (for k comparisons with family-wise control, pass α/k: Holm's
    /// step-down does not carry over to sequential looks, Bonferroni does).
    ///
    /// Errors: `n_start` < 2 (no t-test), `n_max` < `n_start`, `alpha` not in (0, 0.5), a
    /// margin that is not finite and > 0.
    ///
    /// ```
    /// use shears_core::stats::{SequentialDesign, Spending};
    ///
    /// let d = SequentialDesign::new(0.05, 0.005, 3, 12, Spending::OBrienFleming)?;
    /// let first = d.nominal_level(3).unwrap();
    /// let last = d.nominal_level(12).unwrap();
    /// assert!(first < 1e-4 && first < last && last < 0.05); // each look pays for the others
    /// assert_eq!(d.nominal_level(13), None);
    /// assert!(SequentialDesign::new(0.05, 0.005, 1, 12, Spending::Pocock).is_err());
    /// # Ok::<(), shears_core::stats::StatsError>(())
    /// ```
    pub fn new(
        alpha: f64,
        margin: f64,
        n_start: usize,
        n_max: usize,
        spending: Spending,
    ) -> Result<Self, StatsError> {
        check_alpha(alpha)?;
        if !(margin.is_finite() && margin > 0.0) {
            return Err(StatsError::InvalidMargin(margin));
        }
        if n_start < 2 || n_max < n_start {
            return Err(StatsError::InvalidDesign(format!(
                "seeds from {n_start} to {n_max}: need 2 ≤ start ≤ maximum"
            )));
        }
        let fractions: Vec<f64> = (n_start..=n_max).map(|n| n as f64 / n_max as f64).collect();
        let better = one_sided_boundaries(&fractions, alpha / 2.0, spending)?;
        let equivalent = one_sided_boundaries(&fractions, alpha, spending)?;
        let normal = Normal::new(0.0, 1.0).expect("standard normal");
        let looks = (n_start..=n_max)
            .zip(fractions)
            .zip(better.iter().zip(&equivalent))
            .map(|((n, information), (&cb, &ce))| Look {
                n,
                information,
                better_level: 2.0 * normal.sf(cb),
                equivalence_level: normal.sf(ce),
            })
            .collect();
        Ok(Self {
            alpha,
            margin,
            n_start,
            n_max,
            spending,
            looks,
        })
    }

    /// Every look with its nominal levels (the table docs/statistics.md prints).
    pub fn looks(&self) -> &[Look] {
        &self.looks
    }

    /// Two-sided nominal level of the "better" test at `n` seeds; `None` outside the looks.
    pub fn nominal_level(&self, n: usize) -> Option<f64> {
        self.look(n).map(|l| l.better_level)
    }

    /// Nominal level of the TOST at `n` seeds; `None` outside the looks.
    pub fn nominal_equivalence_level(&self, n: usize) -> Option<f64> {
        self.look(n).map(|l| l.equivalence_level)
    }

    fn look(&self, n: usize) -> Option<&Look> {
        n.checked_sub(self.n_start).and_then(|k| self.looks.get(k))
    }

    /// The decision after a look at the paired samples `a`, `b` (all seeds so far).
    ///
    /// Fewer than `n_start` pairs: continue. At a look: better if the paired t p is below the
    /// look's nominal level, else equivalent if the TOST p is, else continue — or, at
    /// `n_max`, stop inconclusive with [`seeds_needed`] at the margin and level α (a fixed
    /// design's count, for the report to quote). More than `n_max` pairs is an error.
    ///
    /// ```
    /// use shears_core::stats::{SeqDecision, SequentialDesign, Side, Spending, Verdict};
    ///
    /// let d = SequentialDesign::new(0.05, 0.005, 3, 12, Spending::Pocock)?;
    /// let a = [0.870, 0.861, 0.866, 0.872, 0.868];
    /// let b = [0.851, 0.846, 0.850, 0.853, 0.849];
    /// assert_eq!(d.decide(&a[..2], &b[..2])?, SeqDecision::Continue); // before the first look
    /// let stop = SeqDecision::Stop { verdict: Verdict::Better { side: Side::A } };
    /// assert_eq!(d.decide(&a, &b)?, stop);
    /// # Ok::<(), shears_core::stats::StatsError>(())
    /// ```
    pub fn decide(&self, a: &[f64], b: &[f64]) -> Result<SeqDecision, StatsError> {
        let test = paired_t_test(a, b)?;
        let n = test.n;
        if n > self.n_max {
            return Err(StatsError::InvalidDesign(format!(
                "{n} pairs is more than the design's maximum of {}",
                self.n_max
            )));
        }
        let Some(look) = self.look(n) else {
            return Ok(SeqDecision::Continue);
        };
        if test.p_value.is_some_and(|p| p < look.better_level) && test.mean_diff != 0.0 {
            let side = if test.mean_diff > 0.0 {
                Side::A
            } else {
                Side::B
            };
            let verdict = Verdict::Better { side };
            return Ok(SeqDecision::Stop { verdict });
        }
        let tost = tost_paired(a, b, self.margin)?;
        if tost.p_value.is_some_and(|p| p < look.equivalence_level) {
            let verdict = Verdict::Equivalent;
            return Ok(SeqDecision::Stop { verdict });
        }
        if n < self.n_max {
            return Ok(SeqDecision::Continue);
        }
        let seeds_needed = test
            .std_diff
            .and_then(|s| seeds_needed(s, self.margin, self.alpha, POWER));
        let verdict = Verdict::Inconclusive { seeds_needed };
        Ok(SeqDecision::Stop { verdict })
    }
}

/// Verdicts for a family of k pairs `(a, b)` judged at their current looks of one
/// group-sequential design per pair, each run at α/k (Bonferroni: Holm's step-down does not
/// carry over to sequential looks). The family-wise error of every claim is then ≤ α however
/// the looks were stopped — each pair can only ever be rejected at its boundaries.
///
/// The adjusted p-values are scaled to read against α like Holm's: a pair's p at n seeds is
/// reported as p · α / ℓ_n (at most 1), with ℓ_n the look's nominal level, so "adjusted p < α"
/// is exactly "p below the boundary". A pair with fewer than `n_start` seeds has no look
/// (inconclusive); one with more than `n_max` is judged at the last look. Inconclusive pairs
/// plan their seeds at α/k, as [`judge_family`](super::judge_family) does.
///
/// ```
/// use shears_core::stats::{Spending, Verdict, judge_family_sequential};
///
/// let a = [0.870, 0.861, 0.866, 0.872, 0.868, 0.869];
/// let b = [0.851, 0.846, 0.850, 0.853, 0.849, 0.850];
/// let seq = |n: usize| {
///     judge_family_sequential(&[(&a[..n], &b[..n])], 0.005, 0.05, 3, 12, Spending::OBrienFleming)
/// };
/// // At 3 seeds the O'Brien–Fleming boundary is far out; at 6 the difference is resolved.
/// assert!(matches!(seq(3)?[0].verdict, Verdict::Inconclusive { .. }));
/// assert!(matches!(seq(6)?[0].verdict, Verdict::Better { .. }));
/// # Ok::<(), shears_core::stats::StatsError>(())
/// ```
pub fn judge_family_sequential(
    pairs: &[(&[f64], &[f64])],
    margin: f64,
    alpha: f64,
    n_start: usize,
    n_max: usize,
    spending: Spending,
) -> Result<Vec<PairVerdict>, StatsError> {
    check_alpha(alpha)?;
    let k = pairs.len().max(1);
    let design = SequentialDesign::new(alpha / k as f64, margin, n_start, n_max, spending)?;
    judge_at_looks(&design, alpha, pairs)
}

/// [`judge_family_sequential`] with its design (at α/k) already built.
pub(super) fn judge_at_looks(
    design: &SequentialDesign,
    alpha: f64,
    pairs: &[(&[f64], &[f64])],
) -> Result<Vec<PairVerdict>, StatsError> {
    let k = pairs.len().max(1);
    let scale = |p: Option<f64>, level: Option<f64>| match (p, level) {
        (Some(p), Some(l)) => Some((p * alpha / l).min(1.0)),
        _ => None,
    };
    let mut out = Vec::with_capacity(pairs.len());
    for (a, b) in pairs {
        let test = paired_t_test(a, b)?;
        let tost = tost_paired(a, b, design.margin)?;
        let look = design.look(test.n.min(design.n_max));
        let p = scale(test.p_value, look.map(|l| l.better_level));
        let tp = scale(tost.p_value, look.map(|l| l.equivalence_level));
        let verdict = judge(&test, p, &tost, tp, alpha, k);
        let within_margin =
            matches!(verdict, Verdict::Better { .. }) && tp.is_some_and(|p| p < alpha);
        out.push(PairVerdict {
            verdict,
            test,
            p_adjusted: p,
            tost,
            tost_p_adjusted: tp,
            within_margin,
        });
    }
    Ok(out)
}

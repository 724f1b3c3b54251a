//! The three-way verdict for a pair of regimes: one is *better*, the two are *equivalent*
//! within ±m, or the data are *inconclusive* (and how many seeds would settle it).
//!
//! "Not significantly different" is never read as "the same": sameness needs its own test
//! (TOST), and both the difference tests and the equivalence tests of a report are
//! Holm-corrected as two families, so neither a false winner nor a false tie becomes likely
//! just because many pairs were looked at.

use serde::{Deserialize, Serialize};

use super::{PairedTest, StatsError, Tost, holm_options, paired_t_test, t_quantile, tost_paired};

/// Which side of a pair `(a, b)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    A,
    B,
}

/// The answer for one pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// The Holm-adjusted paired t-test p is < α; `side` has the higher mean.
    Better { side: Side },
    /// Not better, and the Holm-adjusted TOST p is < α: the mean difference lies within ±m.
    Equivalent,
    /// Neither. `seeds_needed` is [`seeds_needed`] at the margin from the observed spread of
    /// the differences, at level α / (family size) so that even the first step of Holm would
    /// pass (`None` when the spread is undefined or zero).
    Inconclusive { seeds_needed: Option<usize> },
}

/// Everything behind one pair's verdict, raw and adjusted p-values both kept for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairVerdict {
    pub verdict: Verdict,
    /// The paired t-test of `a − b`, with its raw p.
    pub test: PairedTest,
    /// Holm-adjusted p of `test` within its family.
    pub p_adjusted: Option<f64>,
    /// The equivalence test of `a − b` at the margin, with its raw p.
    pub tost: Tost,
    /// Holm-adjusted TOST p within the family of equivalence tests.
    pub tost_p_adjusted: Option<f64>,
    /// A `Better` verdict whose difference is also shown to be within ±m (significant but
    /// smaller than the margin): the report can say the difference is real but negligible.
    pub within_margin: bool,
}

/// The verdict from already-adjusted p-values: better takes precedence over equivalent (a
/// real difference is the stronger statement; see [`PairVerdict::within_margin`]).
/// `family_size` (the m of the Holm correction, at least 1) sets the level α/m at which an
/// inconclusive pair's seeds are planned: at level α the count can be no more than the seeds
/// already used, which would read as a contradiction.
pub fn judge(
    test: &PairedTest,
    p_adjusted: Option<f64>,
    tost: &Tost,
    tost_p_adjusted: Option<f64>,
    alpha: f64,
    family_size: usize,
) -> Verdict {
    if p_adjusted.is_some_and(|p| p < alpha) && test.mean_diff != 0.0 {
        let side = if test.mean_diff > 0.0 {
            Side::A
        } else {
            Side::B
        };
        return Verdict::Better { side };
    }
    if tost_p_adjusted.is_some_and(|p| p < alpha) {
        return Verdict::Equivalent;
    }
    Verdict::Inconclusive {
        seeds_needed: test.std_diff.and_then(|s| {
            seeds_needed(
                s,
                tost.margin,
                alpha / family_size.max(1) as f64,
                super::POWER,
            )
        }),
    }
}

/// Verdicts for a family of pairs `(a, b)` (for a report: every pair at every target), with
/// the paired t-tests Holm-corrected as one family and the TOSTs as another.
///
/// Holm-adjusting the equivalence tests too is the conservative choice: each "equivalent" is
/// then a claim whose family-wise error is ≤ α, just like each "better".
///
/// ```
/// use shears_core::stats::{Side, Verdict, judge_family};
///
/// let a = [0.861, 0.857, 0.859, 0.860];
/// let worse = [0.851, 0.846, 0.850, 0.849];
/// let same = [0.8612, 0.8568, 0.8591, 0.8598];
/// let noisy = [0.875, 0.840, 0.870, 0.845];
/// let v = judge_family(&[(&a, &worse), (&a, &same), (&a, &noisy)], 0.005, 0.05)?;
/// assert_eq!(v[0].verdict, Verdict::Better { side: Side::A });
/// assert_eq!(v[1].verdict, Verdict::Equivalent);
/// assert!(matches!(v[2].verdict, Verdict::Inconclusive { seeds_needed: Some(n) } if n > 4));
/// # Ok::<(), shears_core::stats::StatsError>(())
/// ```
pub fn judge_family(
    pairs: &[(&[f64], &[f64])],
    margin: f64,
    alpha: f64,
) -> Result<Vec<PairVerdict>, StatsError> {
    check_alpha(alpha)?;
    let mut tests = Vec::with_capacity(pairs.len());
    let mut tosts = Vec::with_capacity(pairs.len());
    for (a, b) in pairs {
        tests.push(paired_t_test(a, b)?);
        tosts.push(tost_paired(a, b, margin)?);
    }
    let p_adj = holm_options(&tests.iter().map(|t| t.p_value).collect::<Vec<_>>())?;
    let tost_adj = holm_options(&tosts.iter().map(|t| t.p_value).collect::<Vec<_>>())?;
    Ok(tests
        .into_iter()
        .zip(tosts)
        .zip(p_adj.into_iter().zip(tost_adj))
        .map(|((test, tost), (p, tp))| {
            let verdict = judge(&test, p, &tost, tp, alpha, pairs.len());
            let within_margin =
                matches!(verdict, Verdict::Better { .. }) && tp.is_some_and(|p| p < alpha);
            PairVerdict {
                verdict,
                test,
                p_adjusted: p,
                tost,
                tost_p_adjusted: tp,
                within_margin,
            }
        })
        .collect())
}

pub(super) fn check_alpha(alpha: f64) -> Result<(), StatsError> {
    if alpha > 0.0 && alpha < 0.5 {
        Ok(())
    } else {
        Err(StatsError::InvalidAlpha(alpha))
    }
}

/// Largest seed count [`seeds_needed`] searches; beyond it the answer is `None`.
const MAX_SEEDS: usize = 1 << 20;

/// The smallest number of seeds n ≥ 2 at which a two-sided paired t-test at level `alpha`
/// has power ≥ `power` against a true difference of `margin`, when the paired differences
/// have standard deviation `sd_diff`: the smallest n with
/// (t_{1−α/2, n−1} + t_{power, n−1}) · s / √n ≤ m — the minimal detectable difference of
/// [`min_detectable_difference`](super::min_detectable_difference) brought down to the margin.
///
/// `sd_diff` is the *observed* spread, so the answer is a planning estimate, not a promise;
/// the simulation tests measure the power it actually gives. For a report's Holm family of
/// size k, pass α/k for the seeds that resolve even the smallest p. `None` when `sd_diff`
/// is not finite and > 0, `margin` not finite and > 0, `alpha` or `power` not in (0, 1), or
/// the count would exceed 2²⁰.
///
/// ```
/// use shears_core::stats::seeds_needed;
///
/// // Differences spread by 0.3 pp; a 1 pp difference is resolved with 3 seeds.
/// assert_eq!(seeds_needed(0.003, 0.01, 0.05, 0.8), Some(3));
/// // A 0.5 pp margin with 0.5 pp spread: (1.96 + 0.84)² ≈ 8 with normal quantiles; the t
/// // quantiles' heavier tails at few seeds make it 10 ((2.262 + 0.883) / √10 ≤ 1).
/// assert_eq!(seeds_needed(0.005, 0.005, 0.05, 0.8), Some(10));
/// assert_eq!(seeds_needed(0.0, 0.005, 0.05, 0.8), None);
/// ```
pub fn seeds_needed(sd_diff: f64, margin: f64, alpha: f64, power: f64) -> Option<usize> {
    let ok = |x: f64| x > 0.0 && x < 1.0;
    if !(sd_diff.is_finite() && sd_diff > 0.0 && margin.is_finite() && margin > 0.0) {
        return None;
    }
    if !(ok(alpha) && ok(power)) {
        return None;
    }
    let detectable = |n: usize| -> Option<bool> {
        let df = (n - 1) as f64;
        let t = t_quantile(1.0 - alpha / 2.0, df)? + t_quantile(power, df)?;
        Some(t * sd_diff / (n as f64).sqrt() <= margin)
    };
    // Monotone in n: double to bracket, then bisect for the smallest n that detects.
    let (mut lo, mut hi) = (1usize, 2usize);
    while !detectable(hi)? {
        if hi >= MAX_SEEDS {
            return None;
        }
        (lo, hi) = (hi, hi * 2);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if detectable(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

//! Small-sample statistics for comparing pruning regimes over seeds.
//!
//! Everything here works on plain `f64` slices and returns `Option` where a quantity is
//! undefined (too few samples, zero variance, non-finite input), so callers never see a NaN
//! and JSON output carries `null` instead. Student t quantiles and CDF come from `statrs`.
//!
//! Conventions:
//! - `std` is the sample standard deviation (divisor n − 1).
//! - Confidence intervals are Student t intervals with n − 1 degrees of freedom:
//!   half-width = t_{1−α/2, n−1} · s / √n.
//! - The paired t-test works on differences `a[i] − b[i]` and is two-sided.
//! - The minimal detectable difference (MDD) of a paired test at level α and power 1 − β is
//!   (t_{1−α/2, n−1} + t_{1−β, n−1}) · s_d / √n, using the *observed* std of the differences
//!   (the usual planning approximation; it is not a post-hoc power).
//!
//! On top of these, the decisions a report makes (docs/statistics.md explains them in words,
//! with the error rates measured by the simulation tests in `stats/simulation.rs`):
//! - [`holm`]: Holm–Bonferroni adjusted p-values, so a report's many comparisons name a false
//!   winner with probability ≤ α in all.
//! - [`tost_paired`]: the paired equivalence test (two one-sided tests) at a margin ±m.
//! - [`judge_family`]: the three-way [`Verdict`] per pair — better, equivalent, or
//!   inconclusive with [`seeds_needed`] — with both families of tests Holm-corrected.
//! - [`SequentialDesign`]: `--seeds auto`'s group-sequential design (Lan–DeMets
//!   [`Spending`], boundaries from [`one_sided_boundaries`]).
//! - [`resolve_crossover`]: a crossing counts as located only when the difference is
//!   significant with opposite signs on both sides; [`crossings`] is the descriptive view.
//!
//! ```
//! use shears_core::stats;
//!
//! // Final test accuracies of two regimes over the same three seeds (same dense models).
//! let one_shot = [0.861, 0.857, 0.859];
//! let geometric = [0.855, 0.850, 0.853];
//! let d = stats::describe(&one_shot).unwrap();
//! assert!((d.mean - 0.859).abs() < 1e-12 && d.ci95.is_some());
//!
//! // Paired by seed: the seed-to-seed spread cancels in the differences.
//! let t = stats::paired_t_test(&one_shot, &geometric)?;
//! assert_eq!(t.n, 3);
//! assert!(t.significant(stats::ALPHA));
//! # Ok::<(), stats::StatsError>(())
//! ```

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Significance level used throughout the report layer.
pub const ALPHA: f64 = 0.05;
/// Power used for the minimal detectable difference.
pub const POWER: f64 = 0.8;

fn all_finite(xs: &[f64]) -> bool {
    xs.iter().all(|x| x.is_finite())
}

/// Arithmetic mean; `None` for an empty slice or any non-finite value.
pub fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || !all_finite(xs) {
        return None;
    }
    Some(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample standard deviation (n − 1 divisor); `None` for n < 2 or non-finite input.
pub fn sample_std(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    // Identical values have exactly zero spread (the rounded mean could make it 1e-17).
    if xs.iter().all(|&x| x == xs[0]) {
        return Some(0.0);
    }
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// Quantile `p` of Student's t with `df` degrees of freedom; `None` when `df ≤ 0`, `df` is not
/// finite, or `p` is outside (0, 1).
pub fn t_quantile(p: f64, df: f64) -> Option<f64> {
    if !(p > 0.0 && p < 1.0 && df > 0.0 && df.is_finite()) {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    let q = t.inverse_cdf(p);
    q.is_finite().then_some(q)
}

/// CDF of Student's t with `df` degrees of freedom at `x`.
pub fn t_cdf(x: f64, df: f64) -> Option<f64> {
    if x.is_nan() || !(df > 0.0 && df.is_finite()) {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(t.cdf(x))
}

/// Two-sided p-value of a t statistic with `df` degrees of freedom: 2·P(T ≥ |t|).
pub fn t_two_sided_p(t: f64, df: f64) -> Option<f64> {
    if !(t.is_finite() && df > 0.0 && df.is_finite()) {
        return None;
    }
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    // Survival function directly, for accuracy in the tail.
    Some((2.0 * dist.sf(t.abs())).min(1.0))
}

/// Half-width of the two-sided `level` (e.g. 0.95) Student t confidence interval of the mean.
///
/// `None` for n < 2 (no variance estimate). With zero sample variance the interval is the
/// single point `mean`, so the half-width is `Some(0.0)`.
///
/// ```
/// use shears_core::stats::{ci95_half_width, ci_half_width};
///
/// // Mean 2, sample std 1, n = 3: t(0.975, 2) · 1 / √3.
/// let h = ci95_half_width(&[1.0, 2.0, 3.0]).unwrap();
/// assert!((h - 4.302653 / 3f64.sqrt()).abs() < 1e-5);
/// assert!(ci_half_width(&[1.0, 2.0, 3.0], 0.5).unwrap() < h);
/// assert_eq!(ci95_half_width(&[1.0]), None); // no variance estimate from one value
/// ```
pub fn ci_half_width(xs: &[f64], level: f64) -> Option<f64> {
    let n = xs.len();
    let s = sample_std(xs)?;
    let t = t_quantile(0.5 + level / 2.0, (n - 1) as f64)?;
    Some(t * s / (n as f64).sqrt())
}

/// Half-width of the 95% Student t confidence interval of the mean (see [`ci_half_width`]).
pub fn ci95_half_width(xs: &[f64]) -> Option<f64> {
    ci_half_width(xs, 0.95)
}

/// Mean, sample std and 95% CI half-width of one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Describe {
    pub n: usize,
    pub mean: f64,
    pub std: Option<f64>,
    pub ci95: Option<f64>,
}

/// [`Describe`] of `xs`; `None` for an empty slice or non-finite input.
pub fn describe(xs: &[f64]) -> Option<Describe> {
    Some(Describe {
        n: xs.len(),
        mean: mean(xs)?,
        std: sample_std(xs),
        ci95: ci95_half_width(xs),
    })
}

/// Minimal detectable difference of a two-sided paired t-test at level `alpha` and power
/// `power`, for `n` pairs whose differences have standard deviation `sd_diff`:
/// (t_{1−α/2, n−1} + t_{power, n−1}) · sd / √n.
///
/// `None` for n < 2, a non-finite or negative `sd_diff`, or `sd_diff == 0` (a zero observed
/// variance gives the calculation no scale: it would claim every difference is detectable).
///
/// ```
/// use shears_core::stats::min_detectable_difference;
///
/// // 3 seeds whose differences spread by 1 pp can resolve about 3 pp, no less.
/// let mdd = min_detectable_difference(0.01, 3, 0.05, 0.8).unwrap();
/// assert!((0.030..0.032).contains(&mdd));
/// assert_eq!(min_detectable_difference(0.01, 1, 0.05, 0.8), None);
/// ```
pub fn min_detectable_difference(sd_diff: f64, n: usize, alpha: f64, power: f64) -> Option<f64> {
    if n < 2 || !sd_diff.is_finite() || sd_diff <= 0.0 {
        return None;
    }
    let df = (n - 1) as f64;
    let ta = t_quantile(1.0 - alpha / 2.0, df)?;
    let tb = t_quantile(power, df)?;
    Some((ta + tb) * sd_diff / (n as f64).sqrt())
}

/// Result of a two-sided paired t-test of `a` against `b` (differences `a − b`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedTest {
    /// Number of pairs.
    pub n: usize,
    /// Mean of the differences `a − b`.
    pub mean_diff: f64,
    /// Sample std of the differences (`None` for n < 2).
    pub std_diff: Option<f64>,
    /// 95% CI half-width of the mean difference (`None` for n < 2).
    pub ci95: Option<f64>,
    /// t statistic (`None` when undefined: n < 2 or zero variance).
    pub t: Option<f64>,
    /// Degrees of freedom n − 1 (`None` for n < 2).
    pub df: Option<usize>,
    /// Two-sided p-value (`None` when the statistic is undefined).
    pub p_value: Option<f64>,
    /// Minimal detectable difference at α = 0.05, power 0.8 (see [`min_detectable_difference`]).
    pub min_detectable_difference: Option<f64>,
    /// Why a quantity is missing, when one is.
    pub note: Option<String>,
}

impl PairedTest {
    /// `p < alpha`; `false` when the p-value is undefined.
    pub fn significant(&self, alpha: f64) -> bool {
        self.p_value.is_some_and(|p| p < alpha)
    }
}

/// Errors of the paired test's inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    #[error("paired samples differ in length ({0} vs {1})")]
    LengthMismatch(usize, usize),
    #[error("no pairs")]
    Empty,
    #[error("non-finite value in the samples")]
    NonFinite,
    #[error(
        "equivalence margin {0} is not a finite number > 0 (it is in accuracy units: 0.005 = 0.5 pp)"
    )]
    InvalidMargin(f64),
    #[error("significance level {0} is not in (0, 0.5)")]
    InvalidAlpha(f64),
    #[error("p-value #{index} is {value}, not a number in [0, 1]")]
    InvalidPValue { index: usize, value: f64 },
    #[error("sequential design: {0}")]
    InvalidDesign(String),
}

/// The paired differences `a[i] − b[i]`, after checking the samples pair up and are finite.
fn differences(a: &[f64], b: &[f64]) -> Result<Vec<f64>, StatsError> {
    if a.len() != b.len() {
        return Err(StatsError::LengthMismatch(a.len(), b.len()));
    }
    if a.is_empty() {
        return Err(StatsError::Empty);
    }
    if !all_finite(a) || !all_finite(b) {
        return Err(StatsError::NonFinite);
    }
    Ok(a.iter().zip(b).map(|(x, y)| x - y).collect())
}

/// Two-sided paired t-test of `a` against `b` (pairs are `a[i]`, `b[i]`).
///
/// n = 1 gives the difference with every inferential field `None`. Zero variance of the
/// differences gives a CI half-width of 0 but `t`, `p_value` and the MDD `None`: the t-test's
/// statistic is 0/0 or ±∞ there, and neither is an honest p-value.
///
/// ```
/// use shears_core::stats::paired_t_test;
///
/// let t = paired_t_test(&[0.90, 0.92, 0.91], &[0.88, 0.91, 0.88])?;
/// assert!((t.mean_diff - 0.02).abs() < 1e-12);
/// assert_eq!(t.df, Some(2));
/// assert!(t.p_value.is_some_and(|p| p > 0.05)); // 3 seeds, spread 1 pp: not significant
///
/// // One pair: the difference, but no test.
/// let one = paired_t_test(&[0.9], &[0.8])?;
/// assert!(one.p_value.is_none() && one.note.is_some());
/// assert!(paired_t_test(&[0.9], &[0.8, 0.7]).is_err());
/// # Ok::<(), shears_core::stats::StatsError>(())
/// ```
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Result<PairedTest, StatsError> {
    let d = differences(a, b)?;
    let n = d.len();
    let mean_diff = mean(&d).ok_or(StatsError::NonFinite)?;
    if n < 2 {
        return Ok(PairedTest {
            n,
            mean_diff,
            std_diff: None,
            ci95: None,
            t: None,
            df: None,
            p_value: None,
            min_detectable_difference: None,
            note: Some("one pair only: no variance estimate, so no CI or test".into()),
        });
    }
    let sd = sample_std(&d).ok_or(StatsError::NonFinite)?;
    let ci95 = ci95_half_width(&d);
    let df = n - 1;
    if sd == 0.0 {
        return Ok(PairedTest {
            n,
            mean_diff,
            std_diff: Some(0.0),
            ci95,
            t: None,
            df: Some(df),
            p_value: None,
            min_detectable_difference: None,
            note: Some("the differences have zero variance: the t statistic is undefined".into()),
        });
    }
    let t = mean_diff / (sd / (n as f64).sqrt());
    Ok(PairedTest {
        n,
        mean_diff,
        std_diff: Some(sd),
        ci95,
        t: Some(t),
        df: Some(df),
        p_value: t_two_sided_p(t, df as f64),
        min_detectable_difference: min_detectable_difference(sd, n, ALPHA, POWER),
        note: None,
    })
}

mod crossing;
mod holm;
mod resolve;
mod sequential;
mod spending;
mod tost;
mod verdict;

pub use crossing::{CrossDirection, Crossing, DiffPoint, crossings};
pub use holm::{holm, holm_options};
pub use resolve::{CrossoverResolution, LocatedCrossing, SignedDiff, resolve_crossover};
pub use sequential::{Look, SeqDecision, SequentialDesign, judge_family_sequential};
pub use spending::{Spending, one_sided_boundaries};
pub use tost::{Tost, tost_paired};
pub use verdict::{PairVerdict, Side, Verdict, judge, judge_family, seeds_needed};

#[cfg(test)]
mod simulation;
#[cfg(test)]
mod simulation_grid;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_decisions;

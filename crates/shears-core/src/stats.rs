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
    if a.len() != b.len() {
        return Err(StatsError::LengthMismatch(a.len(), b.len()));
    }
    if a.is_empty() {
        return Err(StatsError::Empty);
    }
    if !all_finite(a) || !all_finite(b) {
        return Err(StatsError::NonFinite);
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
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

/// One point of a difference curve d(x) (e.g. iterative − one-shot accuracy at target x),
/// with its confidence band `[lo, hi]` (both `None` when the CI is undefined).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DiffPoint {
    pub x: f64,
    pub d: f64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

impl DiffPoint {
    /// A point with a symmetric CI half-width (`None` → no band).
    pub fn with_half_width(x: f64, d: f64, half_width: Option<f64>) -> Self {
        Self {
            x,
            d,
            lo: half_width.map(|h| d - h),
            hi: half_width.map(|h| d + h),
        }
    }
}

/// Direction of a sign change of d(x) with increasing x.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossDirection {
    /// From d ≤ 0 to d > 0.
    Up,
    /// From d > 0 to d ≤ 0.
    Down,
}

/// One sign change of a difference curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Crossing {
    pub direction: CrossDirection,
    /// Zero of the straight line between the two bracketing points.
    pub estimate: f64,
    /// The bracketing measured x values.
    pub between: [f64; 2],
    /// Uncertainty interval: the connected x-range around `estimate` over which the
    /// linearly interpolated confidence band `[lo(x), hi(x)]` contains 0, i.e. where the
    /// difference is not distinguishable from zero. `None` when a needed band is undefined.
    pub interval: Option<[f64; 2]>,
    /// The interval reaches the first measured x: the true lower end may lie further left.
    pub lower_open: bool,
    /// The interval reaches the last measured x: the true upper end may lie further right.
    pub upper_open: bool,
}

/// Sub-range `[t0, t1]` of `t ∈ [0, 1]` where the line from `a` (t=0) to `b` (t=1) is ≤ 0,
/// or `None` when empty.
fn half_line(a: f64, b: f64) -> Option<(f64, f64)> {
    // Where a + t(b − a) ≤ 0 on [0, 1].
    match (a <= 0.0, b <= 0.0) {
        (true, true) => Some((0.0, 1.0)),
        (false, false) => None,
        (true, false) => Some((0.0, a / (a - b))),
        (false, true) => Some((a / (a - b), 1.0)),
    }
}

/// On segment `[p, q]`, the x-range where `lo(x) ≤ 0 ≤ hi(x)` (band contains zero).
fn band_contains_zero(p: &DiffPoint, q: &DiffPoint) -> Option<Option<(f64, f64)>> {
    let (lo0, lo1, hi0, hi1) = (p.lo?, q.lo?, p.hi?, q.hi?);
    let a = half_line(lo0, lo1);
    let b = half_line(-hi0, -hi1);
    let r = match (a, b) {
        (Some((a0, a1)), Some((b0, b1))) => {
            let (t0, t1) = (a0.max(b0), a1.min(b1));
            // Endpoints map exactly onto the measured x values so segments chain exactly.
            let at = |t: f64| {
                if t <= 0.0 {
                    p.x
                } else if t >= 1.0 {
                    q.x
                } else {
                    p.x + t * (q.x - p.x)
                }
            };
            (t0 <= t1).then(|| (at(t0), at(t1)))
        }
        _ => None,
    };
    Some(r)
}

/// Every sign change of d(x), from d ≤ 0 to d > 0 ([`CrossDirection::Up`]) and from d > 0 to
/// d ≤ 0 ([`CrossDirection::Down`]), between adjacent points after sorting by x. The estimate
/// is the zero of the linear interpolation; see [`Crossing::interval`] for the uncertainty.
/// Points with a non-finite `x` or `d` are ignored. An empty result means no sign change.
///
/// ```
/// use shears_core::stats::{CrossDirection, DiffPoint, crossings};
///
/// // Iterative − one-shot accuracy: negative at 70% sparsity, positive at 90%.
/// let d = [
///     DiffPoint::with_half_width(0.7, -0.01, None),
///     DiffPoint::with_half_width(0.9, 0.01, None),
/// ];
/// let c = crossings(&d);
/// assert_eq!(c.len(), 1);
/// assert_eq!(c[0].direction, CrossDirection::Up);
/// assert!((c[0].estimate - 0.8).abs() < 1e-12);
/// assert_eq!(c[0].between, [0.7, 0.9]);
/// assert_eq!(c[0].interval, None); // no confidence band given
/// ```
pub fn crossings(points: &[DiffPoint]) -> Vec<Crossing> {
    let mut pts: Vec<DiffPoint> = points
        .iter()
        .copied()
        .filter(|p| p.x.is_finite() && p.d.is_finite())
        .collect();
    pts.sort_by(|a, b| a.x.total_cmp(&b.x));
    let mut out = Vec::new();
    for k in 0..pts.len().saturating_sub(1) {
        let (p, q) = (&pts[k], &pts[k + 1]);
        let direction = match (p.d > 0.0, q.d > 0.0) {
            (false, true) => CrossDirection::Up,
            (true, false) => CrossDirection::Down,
            _ => continue,
        };
        let estimate = if p.d == q.d {
            p.x
        } else {
            p.x + (0.0 - p.d) / (q.d - p.d) * (q.x - p.x)
        };
        let (interval, lower_open, upper_open) = match crossing_interval(&pts, k, estimate) {
            Some((lo, hi)) => (Some([lo, hi]), lo <= pts[0].x, hi >= pts[pts.len() - 1].x),
            None => (None, false, false),
        };
        out.push(Crossing {
            direction,
            estimate,
            between: [p.x, q.x],
            interval,
            lower_open,
            upper_open,
        });
    }
    out
}

/// Connected component around `estimate` (in segment `k`) of {x : lo(x) ≤ 0 ≤ hi(x)}.
fn crossing_interval(pts: &[DiffPoint], k: usize, estimate: f64) -> Option<(f64, f64)> {
    let here = band_contains_zero(&pts[k], &pts[k + 1])?;
    // Analytically the estimate is inside (lo ≤ d ≤ hi at both ends); guard rounding.
    let (mut left, mut right) = match here {
        Some((a, b)) => (a.min(estimate), b.max(estimate)),
        None => (estimate, estimate),
    };
    // Extend left while the component reaches the segment's left end.
    let mut j = k;
    while left <= pts[j].x && j > 0 {
        match band_contains_zero(&pts[j - 1], &pts[j])? {
            Some((a, b)) if b >= pts[j].x => left = a,
            _ => break,
        }
        j -= 1;
    }
    let mut j = k + 1;
    while right >= pts[j].x && j + 1 < pts.len() {
        match band_contains_zero(&pts[j], &pts[j + 1])? {
            Some((a, b)) if a <= pts[j].x => right = b,
            _ => break,
        }
        j += 1;
    }
    Some((left, right))
}

#[cfg(test)]
mod tests;

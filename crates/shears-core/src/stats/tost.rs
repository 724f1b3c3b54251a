//! Paired equivalence test (TOST): "the mean difference lies within ±m" as a claim with its own
//! error control, because a non-significant difference test is no evidence of equivalence.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use super::{ALPHA, StatsError, differences, mean, sample_std, t_quantile};

/// Two one-sided paired t-tests of the mean difference μ of `a − b` against the margin m.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tost {
    /// Number of pairs.
    pub n: usize,
    /// Equivalence margin m (accuracy units: 0.005 = 0.5 pp).
    pub margin: f64,
    /// Mean of the differences `a − b`.
    pub mean_diff: f64,
    /// Sample std of the differences (`None` for n < 2).
    pub std_diff: Option<f64>,
    /// Degrees of freedom n − 1 (`None` for n < 2).
    pub df: Option<usize>,
    /// One-sided p of H₀: μ ≤ −m (small when the difference is clearly above −m).
    pub p_lower: Option<f64>,
    /// One-sided p of H₀: μ ≥ +m (small when the difference is clearly below +m).
    pub p_upper: Option<f64>,
    /// TOST p-value: max(`p_lower`, `p_upper`); equivalence is claimed when it is < α.
    pub p_value: Option<f64>,
    /// The (1 − 2·[`ALPHA`]) = 90% t interval of the mean difference: TOST at α passes exactly
    /// when it lies strictly inside (−m, +m).
    pub ci90: Option<[f64; 2]>,
    /// Why a quantity is missing, when one is.
    pub note: Option<String>,
}

impl Tost {
    /// `p < alpha`; `false` when the p-value is undefined.
    pub fn equivalent(&self, alpha: f64) -> bool {
        self.p_value.is_some_and(|p| p < alpha)
    }
}

/// TOST of `a` against `b` (pairs `a[i]`, `b[i]`) with margin `margin`.
///
/// t₋ = (d̄ + m)/(s/√n) tests H₀: μ ≤ −m, t₊ = (d̄ − m)/(s/√n) tests H₀: μ ≥ m, each one-sided
/// with n − 1 degrees of freedom; the TOST p is the larger of the two. As for
/// [`paired_t_test`](super::paired_t_test), n = 1 or zero variance of the differences leaves
/// the p-values `None` (no scale to judge the difference by) with a note.
///
/// ```
/// use shears_core::stats::tost_paired;
///
/// // Differences 0.1, 0.2, 0.0 pp: mean 0.1 pp, s = 0.1 pp; margin 0.5 pp.
/// let a = [0.851, 0.852, 0.850];
/// let b = [0.850, 0.850, 0.850];
/// let t = tost_paired(&a, &b, 0.005)?;
/// assert!(t.equivalent(0.05));
/// let [lo, hi] = t.ci90.unwrap();
/// assert!(-0.005 < lo && hi < 0.005);
/// // The same data cannot show equivalence within ±0.1 pp.
/// assert!(!tost_paired(&a, &b, 0.001)?.equivalent(0.05));
/// assert!(tost_paired(&a, &b, 0.0).is_err());
/// # Ok::<(), shears_core::stats::StatsError>(())
/// ```
pub fn tost_paired(a: &[f64], b: &[f64], margin: f64) -> Result<Tost, StatsError> {
    if !(margin.is_finite() && margin > 0.0) {
        return Err(StatsError::InvalidMargin(margin));
    }
    let d = differences(a, b)?;
    let n = d.len();
    let mean_diff = mean(&d).ok_or(StatsError::NonFinite)?;
    let mut out = Tost {
        n,
        margin,
        mean_diff,
        std_diff: None,
        df: None,
        p_lower: None,
        p_upper: None,
        p_value: None,
        ci90: None,
        note: Some("one pair only: no variance estimate, so no equivalence test".into()),
    };
    if n < 2 {
        return Ok(out);
    }
    let sd = sample_std(&d).ok_or(StatsError::NonFinite)?;
    let df = n - 1;
    let se = sd / (n as f64).sqrt();
    out.std_diff = Some(sd);
    out.df = Some(df);
    let half = t_quantile(1.0 - ALPHA, df as f64).map(|q| q * se);
    out.ci90 = half.map(|h| [mean_diff - h, mean_diff + h]);
    if sd == 0.0 {
        out.note =
            Some("the differences have zero variance: the t statistics are undefined".into());
        return Ok(out);
    }
    let dist = StudentsT::new(0.0, 1.0, df as f64).map_err(|_| StatsError::NonFinite)?;
    let p_lower = dist.sf((mean_diff + margin) / se);
    let p_upper = dist.cdf((mean_diff - margin) / se);
    out.p_lower = Some(p_lower);
    out.p_upper = Some(p_upper);
    out.p_value = Some(p_lower.max(p_upper));
    out.note = None;
    Ok(out)
}

//! Where a difference curve d(x) changes sign, and the x-range where its confidence band
//! contains zero (the descriptive view; [`super::resolve_crossover`] says whether a crossing is located).

use serde::{Deserialize, Serialize};

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

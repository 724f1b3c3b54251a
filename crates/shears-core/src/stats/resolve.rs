//! Whether a crossover is *located*: a sign change of the mean difference between two targets
//! is noise unless the difference is significantly non-zero on both sides, with opposite signs.

use serde::{Deserialize, Serialize};

use super::CrossDirection;

/// The difference d at one target x (e.g. iterative − one-shot final accuracy) with the
/// p-value of "d = 0", already corrected for multiplicity by the caller (e.g. [`holm`] over
/// every comparison in the report); `None` when no test was possible.
///
/// [`holm`]: super::holm
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SignedDiff {
    pub x: f64,
    pub d: f64,
    pub p_adjusted: Option<f64>,
}

/// A crossing bracketed by two targets where the difference is significant with opposite
/// signs; the targets strictly between them (if any) are not significant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocatedCrossing {
    pub direction: CrossDirection,
    /// The bracketing targets: the crossing lies somewhere between them.
    pub between: [f64; 2],
}

/// The crossover question answered honestly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossoverResolution {
    /// Every target is either significant or inside a located crossing's bracket, so the
    /// sign of the difference is known everywhere between the first and last target.
    pub resolved: bool,
    /// The located crossings when `resolved` (empty otherwise, and empty when the sign never
    /// changes).
    pub crossings: Vec<LocatedCrossing>,
    /// Every unresolved range and every located crossing left out, in words.
    pub warnings: Vec<String>,
}

/// Resolve the crossover of `points` at level `alpha`; `label` names the difference in the
/// warnings (e.g. "geometric − one-shot"). Points with a non-finite x or d are ignored.
///
/// Consecutive *significant* targets with opposite signs bracket a located crossing (any
/// non-significant targets between them do not change that). A non-significant target
/// outside every bracket leaves its neighbourhood unresolved: a warning "no crossover
/// resolved between X and Y" names it, and `resolved` is false.
///
/// ```
/// use shears_core::stats::{CrossDirection, SignedDiff, resolve_crossover};
///
/// let p = |x, d, p| SignedDiff { x, d, p_adjusted: Some(p) };
/// // Significantly negative at 50%, unclear at 80%, significantly positive at 95%.
/// let r = resolve_crossover(&[p(0.5, -0.01, 0.001), p(0.8, 0.001, 0.6), p(0.95, 0.02, 0.002)], 0.05, "d");
/// assert!(r.resolved);
/// assert_eq!(r.crossings[0].between, [0.5, 0.95]);
/// assert_eq!(r.crossings[0].direction, CrossDirection::Up);
///
/// // Signs alternate but nothing is significant: not resolved, and no crossing reported.
/// let r = resolve_crossover(&[p(0.5, -0.001, 0.7), p(0.8, 0.001, 0.6)], 0.05, "d");
/// assert!(!r.resolved && r.crossings.is_empty());
/// assert!(r.warnings[0].contains("no crossover resolved between 50% and 80%"));
/// ```
pub fn resolve_crossover(points: &[SignedDiff], alpha: f64, label: &str) -> CrossoverResolution {
    let mut pts: Vec<SignedDiff> = points
        .iter()
        .copied()
        .filter(|p| p.x.is_finite() && p.d.is_finite())
        .collect();
    pts.sort_by(|a, b| a.x.total_cmp(&b.x));
    if pts.len() < 2 {
        return CrossoverResolution {
            resolved: false,
            crossings: vec![],
            warnings: vec![format!(
                "crossover of {label} not assessable: a paired difference at {} target(s); at least 2 are needed",
                pts.len()
            )],
        };
    }
    let sig: Vec<bool> = pts
        .iter()
        .map(|p| p.d != 0.0 && p.p_adjusted.is_some_and(|q| q < alpha))
        .collect();
    let (located, covered) = locate(&pts, &sig);
    let mut warnings = unresolved_ranges(&pts, &sig, &covered, alpha, label);
    let resolved = warnings.is_empty();
    if !resolved {
        warnings.extend(located.iter().map(|c| {
            format!(
                "{label}: a crossing is located between {} and {} (significant with opposite signs on both sides), but other ranges are unresolved",
                pct(c.between[0]),
                pct(c.between[1])
            )
        }));
    }
    CrossoverResolution {
        resolved,
        crossings: if resolved { located } else { vec![] },
        warnings,
    }
}

/// Crossings between consecutive significant points of opposite sign, and which points lie
/// strictly inside one.
fn locate(pts: &[SignedDiff], sig: &[bool]) -> (Vec<LocatedCrossing>, Vec<bool>) {
    let idx: Vec<usize> = (0..pts.len()).filter(|&i| sig[i]).collect();
    let mut covered = vec![false; pts.len()];
    let mut located = Vec::new();
    for w in idx.windows(2) {
        let (i, j) = (w[0], w[1]);
        if (pts[i].d > 0.0) == (pts[j].d > 0.0) {
            continue;
        }
        covered[i + 1..j].iter_mut().for_each(|c| *c = true);
        let direction = if pts[j].d > 0.0 {
            CrossDirection::Up
        } else {
            CrossDirection::Down
        };
        located.push(LocatedCrossing {
            direction,
            between: [pts[i].x, pts[j].x],
        });
    }
    (located, covered)
}

/// One warning per maximal run of non-significant points outside every located bracket.
fn unresolved_ranges(
    pts: &[SignedDiff],
    sig: &[bool],
    covered: &[bool],
    alpha: f64,
    label: &str,
) -> Vec<String> {
    let open = |i: usize| !sig[i] && !covered[i];
    let mut out = Vec::new();
    let mut i = 0;
    while i < pts.len() {
        if !open(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < pts.len() && open(i) {
            i += 1;
        }
        let (lo, hi) = (start.saturating_sub(1), i.min(pts.len() - 1));
        let which: Vec<String> = pts[start..i]
            .iter()
            .map(|p| match p.p_adjusted {
                Some(q) => format!("{} (adjusted p = {q:.3})", pct(p.x)),
                None => format!("{} (no test)", pct(p.x)),
            })
            .collect();
        let flips = pts[lo..=hi]
            .windows(2)
            .any(|w| (w[0].d > 0.0) != (w[1].d > 0.0));
        out.push(format!(
            "no crossover resolved between {} and {}: {label} is not significantly non-zero (α = {alpha}) at {}{}",
            pct(pts[lo].x),
            pct(pts[hi].x),
            which.join(", "),
            if flips {
                "; the observed means change sign there, which is within noise"
            } else {
                ""
            }
        ));
    }
    out
}

/// 0.9 → "90%", 0.5941 → "59.41%".
fn pct(x: f64) -> String {
    let s = format!("{:.2}", 100.0 * x);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

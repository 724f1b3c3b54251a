//! Where the iterative − one-shot difference changes sign across the measured targets.

use shears_core::stats::{self, Crossing, DiffPoint, LocatedCrossing, SignedDiff};

use super::pairs::paired;
use super::verdicts::Verdicts;
use super::{ALPHA, AnalysisOptions, CrossoverPoint, CrossoverSummary, TargetSummary, pct};
use crate::Measure;

/// The crossover of `opts.iterative_regime` against `opts.one_shot_regime`, located only where
/// the data resolve it; unresolved questions are added to `warnings`. The points keep the
/// measure's own difference; the sign changes are found on the oriented one (positive =
/// iterative better), so "up" is always "iterative overtakes one-shot".
pub(super) fn crossover(
    targets: &[TargetSummary],
    opts: &AnalysisOptions,
    verdicts: &Verdicts,
    warnings: &mut Vec<String>,
) -> CrossoverSummary {
    let (os, it) = (&opts.one_shot_regime, &opts.iterative_regime);
    let m = opts.measure;
    let points = points(targets, os, it, verdicts);
    let diff: Vec<DiffPoint> = points
        .iter()
        .map(|p| DiffPoint::with_half_width(p.target, m.sign() * p.difference, p.ci95))
        .collect();
    let sign_changes = stats::crossings(&diff);
    let signed: Vec<SignedDiff> = points
        .iter()
        .map(|p| SignedDiff {
            x: p.target,
            d: m.sign() * p.difference,
            p_adjusted: p.p_adjusted,
        })
        .collect();
    let resolution = stats::resolve_crossover(&signed, ALPHA, &format!("{it} − {os}"));
    warnings.extend(resolution.warnings.iter().cloned());
    let adjusted = verdicts.adjusted;
    let statement = statement(&points, &resolution, &sign_changes, (os, it), m, adjusted);
    CrossoverSummary {
        one_shot: os.clone(),
        iterative: it.clone(),
        method: method(os, it, m, adjusted),
        points,
        resolved: resolution.resolved,
        crossings: resolution.crossings,
        sign_changes,
        statement,
    }
}

/// The paired difference iterative − one-shot at every target where both share seeds.
fn points(
    targets: &[TargetSummary],
    os: &str,
    it: &str,
    verdicts: &Verdicts,
) -> Vec<CrossoverPoint> {
    let mut points = Vec::new();
    for t in targets {
        if let (Some(a), Some(b)) = (t.regimes.get(it), t.regimes.get(os))
            && let Some(p) = paired(a, b, verdicts.measure)
        {
            points.push(CrossoverPoint {
                target: t.target,
                difference: p.mean_diff,
                ci95: p.ci95,
                n_pairs: p.n,
                p_value: p.p_value,
                p_adjusted: verdicts
                    .get(t.target, it, os)
                    .and_then(|v| v.1.p_adjusted()),
            });
        }
    }
    points
}

fn statement(
    points: &[CrossoverPoint],
    resolution: &stats::CrossoverResolution,
    sign_changes: &[Crossing],
    (os, it): (&str, &str),
    m: Measure,
    adjusted: &str,
) -> String {
    if points.len() < 2 {
        return format!(
            "crossover not assessable: {it} and {os} share seeds at {} target(s); at least 2 are needed",
            points.len()
        );
    }
    let (lo, hi) = (points[0].target, points[points.len() - 1].target);
    if !resolution.resolved {
        let noise = if sign_changes.is_empty() {
            String::new()
        } else {
            format!(
                "; the mean difference changes sign {} time(s), within the noise",
                sign_changes.len()
            )
        };
        return format!(
            "no crossover resolved between {} and {}: the difference {it} − {os} is not significantly non-zero ({adjusted}) at every target needed to place one{noise}",
            pct(lo),
            pct(hi)
        );
    }
    if resolution.crossings.is_empty() {
        let leader = if m.sign() * points[0].difference > 0.0 {
            it
        } else {
            os
        };
        return format!(
            "no crossover between {} and {}: {leader} is significantly better at every measured target",
            pct(lo),
            pct(hi)
        );
    }
    let parts: Vec<String> = resolution
        .crossings
        .iter()
        .map(|c| located(c, os, it, adjusted))
        .collect();
    parts.join("; ")
}

/// A located crossing: who overtakes whom, between which targets.
fn located(c: &LocatedCrossing, os: &str, it: &str, adjusted: &str) -> String {
    let who = match c.direction {
        stats::CrossDirection::Up => format!("{it} overtakes {os}"),
        stats::CrossDirection::Down => format!("{os} overtakes {it}"),
    };
    format!(
        "{who} between {} and {} (significant on both sides, {adjusted})",
        pct(c.between[0]),
        pct(c.between[1])
    )
}

fn method(os: &str, it: &str, m: Measure, adjusted: &str) -> String {
    let sign = if m.higher_is_better() {
        String::new()
    } else {
        format!(
            " (lower is better, so d < 0 where {it} is better; crossing directions are those of −d)"
        )
    };
    format!(
        "d(target) = paired mean of {it} − {os} final {} over shared seeds{sign}, with its 95% t CI \
         and its paired t-test, {adjusted} within the report's family of all pairs. A crossover is \
         located between two targets only where d is significantly non-zero on both sides with \
         opposite signs; a sign change of the mean elsewhere is listed under sign_changes with its \
         interpolated zero and band, and is not a finding.",
        m.name()
    )
}

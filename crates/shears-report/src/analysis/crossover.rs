//! Where the iterative − one-shot difference changes sign across the measured targets.

use shears_core::stats::{self, Crossing, DiffPoint};

use super::pairs::paired;
use super::{AnalysisOptions, CrossoverPoint, CrossoverSummary, TargetSummary, pct};

/// The crossover of `opts.iterative_regime` against `opts.one_shot_regime`.
pub(super) fn crossover(targets: &[TargetSummary], opts: &AnalysisOptions) -> CrossoverSummary {
    let (os, it) = (&opts.one_shot_regime, &opts.iterative_regime);
    let points = points(targets, os, it);
    let diff: Vec<DiffPoint> = points
        .iter()
        .map(|p| DiffPoint::with_half_width(p.target, p.difference, p.ci95))
        .collect();
    let crossings = stats::crossings(&diff);
    let statement = statement(&points, &crossings, os, it);
    CrossoverSummary {
        one_shot: os.clone(),
        iterative: it.clone(),
        method: method(os, it),
        points,
        crossings,
        statement,
    }
}

/// The paired difference iterative − one-shot at every target where both share seeds.
fn points(targets: &[TargetSummary], os: &str, it: &str) -> Vec<CrossoverPoint> {
    let mut points = Vec::new();
    for t in targets {
        if let (Some(a), Some(b)) = (t.regimes.get(it), t.regimes.get(os))
            && let Some(p) = paired(a, b)
        {
            points.push(CrossoverPoint {
                target: t.target,
                difference: p.mean_diff,
                ci95: p.ci95,
                n_pairs: p.n,
                p_value: p.p_value,
            });
        }
    }
    points
}

fn statement(points: &[CrossoverPoint], crossings: &[Crossing], os: &str, it: &str) -> String {
    if points.len() < 2 {
        return format!(
            "crossover not assessable: {it} and {os} share seeds at {} target(s); at least 2 are needed",
            points.len()
        );
    }
    if crossings.is_empty() {
        let (lo, hi) = (points[0].target, points[points.len() - 1].target);
        return if points.iter().all(|p| p.difference > 0.0) {
            format!(
                "no crossover between {} and {}: {it} has the higher mean at every measured target",
                pct(lo),
                pct(hi)
            )
        } else {
            format!(
                "no crossover between {} and {}: {os} has the higher (or equal) mean at every measured target",
                pct(lo),
                pct(hi)
            )
        };
    }
    let parts: Vec<String> = crossings.iter().map(|c| crossing(c, os, it)).collect();
    parts.join("; ")
}

/// One crossing: who overtakes whom, where, and the band where the difference is not
/// distinguishable from zero.
fn crossing(c: &Crossing, os: &str, it: &str) -> String {
    let who = match c.direction {
        stats::CrossDirection::Up => format!("{it} overtakes {os}"),
        stats::CrossDirection::Down => format!("{os} overtakes {it}"),
    };
    let interval = match c.interval {
        Some([a, b]) => format!(
            " (95% band {}{} to {}{})",
            if c.lower_open { "≤ " } else { "" },
            pct(a),
            if c.upper_open { "≥ " } else { "" },
            pct(b)
        ),
        None => " (no interval: some CI is undefined)".into(),
    };
    format!(
        "{who} at ≈ {} sparsity{interval}, between measured targets {} and {}",
        pct(c.estimate),
        pct(c.between[0]),
        pct(c.between[1])
    )
}

fn method(os: &str, it: &str) -> String {
    format!(
        "d(target) = paired mean of {it} − {os} final test top-1 over shared seeds, with its 95% t CI. \
         A crossing is a sign change of d between adjacent measured targets (≤0 → >0 or >0 → ≤0); \
         its estimate is the zero of the straight line between them. Its interval is the connected \
         range of targets around the estimate where the linearly interpolated CI band contains 0 \
         (the difference is not distinguishable from zero there); an end marked open reaches the \
         first or last measured target."
    )
}

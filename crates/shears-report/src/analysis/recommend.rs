//! Recommendations derived only from the measurements: at the nearest measured target, among
//! the regimes within the epoch budget, the best mean — unless a cheaper regime is shown
//! equivalent to it — with its verdict (winner, equivalent, or not resolved and the seeds that
//! would resolve it).

use std::collections::{BTreeMap, BTreeSet};

use super::pairs::{Choice, by_mean, choose, cost, paired};
use super::verdicts::Verdicts;
use super::{
    AnalysisOptions, CellSummary, Evidence, Recommendation, TargetSummary, pct, target_key,
};
use crate::Measure;

/// The overall recommendation (for the requested target, or a digest of the per-target ones)
/// and one recommendation per measured target.
pub(super) fn recommendations(
    targets: &[TargetSummary],
    opts: &AnalysisOptions,
    verdicts: &Verdicts,
) -> (Recommendation, Vec<Recommendation>) {
    let by_target: Vec<Recommendation> = targets
        .iter()
        .map(|t| recommend(targets, t.target, opts.epoch_budget, verdicts))
        .collect();
    let overall = match opts.recommend_target {
        Some(t) => {
            let mut r = recommend(targets, t, opts.epoch_budget, verdicts);
            r.requested_target = Some(t);
            r
        }
        None => general_recommendation(&by_target, opts.epoch_budget),
    };
    (overall, by_target)
}

fn recommend(
    targets: &[TargetSummary],
    requested: f64,
    budget: Option<f64>,
    verdicts: &Verdicts,
) -> Recommendation {
    let mut rec = Recommendation {
        requested_target: None,
        epoch_budget: budget,
        measured_target: None,
        regime: None,
        experiment: None,
        basis: "no_data".into(),
        text: "No measurements".into(),
        evidence: vec![],
    };
    let Some(t) = nearest(targets, requested) else {
        return rec;
    };
    rec.measured_target = Some(t.target);
    let m = verdicts.measure;
    let at = at_target(t.target, requested);
    let budget_txt = budget
        .map(|b| format!(" within {b:.0} epochs"))
        .unwrap_or_default();
    let feasible: Vec<&CellSummary> = t
        .regimes
        .values()
        .filter(|c| budget.is_none_or(|b| c.epochs <= b))
        .collect();
    if feasible.is_empty() {
        rec.basis = "none_within_budget".into();
        rec.text = none_within_budget(t, &at, &budget_txt, m);
        rec.evidence = evidence(&t.regimes, None, budget, m);
        return rec;
    }
    let order = by_mean(feasible.iter().copied(), m);
    let choice = choose(t.target, &order, verdicts);
    let (chosen, basis, text) = explain(&order, &choice, &format!("{at}{budget_txt}"), verdicts);
    rec.basis = basis.into();
    rec.text = text;
    rec.regime = Some(chosen.regime.clone());
    rec.experiment = Some(chosen.experiment.clone());
    rec.evidence = evidence(&t.regimes, Some(chosen), budget, m);
    rec
}

/// The measured target nearest to `requested`; ties go to the higher (more conservative) one.
fn nearest(targets: &[TargetSummary], requested: f64) -> Option<&TargetSummary> {
    targets.iter().min_by(|a, b| {
        (a.target - requested)
            .abs()
            .total_cmp(&(b.target - requested).abs())
            .then_with(|| b.target.total_cmp(&a.target))
    })
}

/// "At 90.00% sparsity", saying so when that is not the requested target.
fn at_target(measured: f64, requested: f64) -> String {
    if target_key(measured) == target_key(requested) {
        format!("At {} sparsity", pct(measured))
    } else {
        format!(
            "At {} sparsity (nearest measured target to the requested {}; no interpolation)",
            pct(measured),
            pct(requested)
        )
    }
}

fn none_within_budget(t: &TargetSummary, at: &str, budget_txt: &str, m: Measure) -> String {
    let cheapest = t
        .regimes
        .values()
        .min_by(|a, b| a.epochs.total_cmp(&b.epochs))
        .expect("non-empty target");
    format!(
        "{at}: no measured regime fits{budget_txt}; the cheapest is {} with {:.1} epochs ({} {})",
        cheapest.regime,
        cheapest.epochs,
        m.fmt(cheapest.mean),
        m.name()
    )
}

/// The basis and the text (starting with `lead`) of a choice among `order` (descending mean).
fn explain<'c>(
    order: &[&'c CellSummary],
    choice: &Choice<'c>,
    lead: &str,
    verdicts: &Verdicts,
) -> (&'c CellSummary, &'static str, String) {
    let (best, chosen) = (order[0], choice.regime);
    let (adjusted, fmt_cell) = (verdicts.adjusted, |c| fmt_cell(c, verdicts.measure));
    let text = match choice.verdict {
        "only" => {
            let text = format!(
                "{lead}: {} is the only measured candidate: {}",
                best.regime,
                fmt_cell(best)
            );
            return (best, "only_candidate", text);
        }
        "winner" => format!(
            "{lead}: use {}: it is significantly better than every other candidate (paired t-tests, {adjusted}); {}",
            best.regime,
            fmt_cell(best)
        ),
        "equivalent" if chosen.regime != best.regime => format!(
            "{lead}: use {}: equivalent to the best mean {} within the margin (TOST, {adjusted}) at {}; {}; best mean {}",
            chosen.regime,
            best.regime,
            cost(best, chosen),
            fmt_cell(chosen),
            fmt_cell(best)
        ),
        "equivalent" => format!(
            "{lead}: use {}: every other candidate is worse or equivalent within the margin; {}",
            best.regime,
            fmt_cell(best)
        ),
        _ => format!(
            "{lead}: not resolved — {} has the best mean, but no other candidate is shown worse or equivalent{}; {}",
            best.regime,
            choice
                .seeds_needed
                .map(|n| format!(" (≈ {n} seeds would resolve a difference of the margin)"))
                .unwrap_or_default(),
            fmt_cell(best)
        ),
    };
    let basis = match choice.verdict {
        "winner" => "winner",
        "equivalent" if chosen.regime != best.regime => "equivalent_cheaper",
        "equivalent" => "equivalent",
        _ => "inconclusive",
    };
    (chosen, basis, text)
}

fn fmt_cell(c: &CellSummary, m: Measure) -> String {
    format!(
        "{} {}{} (n = {}), {:.1} epochs, {:.3e} training FLOPs",
        c.regime,
        m.fmt(c.mean),
        c.ci95
            .map(|h| format!(" ± {}", m.fmt(h)))
            .unwrap_or_default(),
        c.n,
        c.epochs,
        c.train_flops
    )
}

/// Every regime's numbers at the target, against the recommended one when there is one.
fn evidence(
    cells: &BTreeMap<String, CellSummary>,
    rec: Option<&CellSummary>,
    budget: Option<f64>,
    m: Measure,
) -> Vec<Evidence> {
    cells
        .values()
        .map(|c| {
            let vs = rec
                .filter(|r| r.regime != c.regime)
                .and_then(|r| paired(r, c, m));
            Evidence {
                regime: c.regime.clone(),
                experiment: c.experiment.clone(),
                mean: c.mean,
                ci95: c.ci95,
                n: c.n,
                epochs: c.epochs,
                train_flops: c.train_flops,
                within_budget: budget.is_none_or(|b| c.epochs <= b),
                difference_vs_recommended: vs.as_ref().map(|t| t.mean_diff),
                p_value_vs_recommended: vs.and_then(|t| t.p_value),
            }
        })
        .collect()
}

/// Without a requested target: the per-target choices in one line.
fn general_recommendation(by_target: &[Recommendation], budget: Option<f64>) -> Recommendation {
    let parts: Vec<String> = by_target
        .iter()
        .map(|r| {
            format!(
                "{} → {}",
                r.measured_target.map(pct).unwrap_or_default(),
                r.regime.as_deref().unwrap_or("none")
            )
        })
        .collect();
    let regimes: BTreeSet<&str> = by_target
        .iter()
        .filter_map(|r| r.regime.as_deref())
        .collect();
    Recommendation {
        requested_target: None,
        epoch_budget: budget,
        measured_target: None,
        regime: None,
        experiment: None,
        basis: "no_target_requested".into(),
        text: if parts.is_empty() {
            "No measurements".into()
        } else {
            format!(
                "No target requested; per measured target (the best mean, or a cheaper regime shown equivalent to it): {} ({} distinct)",
                parts.join(", "),
                regimes.len()
            )
        },
        evidence: vec![],
    }
}

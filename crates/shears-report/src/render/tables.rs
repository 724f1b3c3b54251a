//! The tables of the report (`results.csv`, the results table, the verdict per target).

use crate::Measure;
use crate::analysis::{CellSummary, DenseSummary, Summary, TargetSummary, pct, pval};

fn opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map(f).unwrap_or_default()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Column names of `results.csv` for top-1 ([`csv_columns`] for any measure).
pub const CSV_COLUMNS: [&str; 24] = [
    "target",
    "regime",
    "experiment",
    "n",
    "test_top1_mean",
    "test_top1_std",
    "test_top1_ci95",
    "test_top1_ci_low",
    "test_top1_ci_high",
    "val_top1_mean",
    "epochs_mean",
    "train_flops_mean",
    "sparsity_mean",
    "configurations",
    "best_mean",
    "winner",
    "significant",
    "p_value",
    "min_detectable_difference",
    "recommended",
    "verdict",
    "vs_best",
    "seeds_needed",
    "wall_s_mean",
];

/// Column names of `results.csv` for `m`: [`CSV_COLUMNS`], with `test_ppl_*` and
/// `val_ppl_mean` in place of `test_top1_*` and `val_top1_mean` for perplexity (the other
/// columns keep their names; `min_detectable_difference` is in the measure's units).
pub fn csv_columns(m: Measure) -> [String; 24] {
    CSV_COLUMNS.map(|c| c.replace("_top1", &format!("_{}", m.column())))
}

/// `results.csv`: one line per (target, regime), the target-level verdict repeated on each.
pub fn results_csv(summary: &Summary) -> String {
    let mut s = csv_columns(summary.options.measure).join(",");
    s.push('\n');
    for t in &summary.targets {
        for c in t.regimes.values() {
            let f6 = |x: f64| format!("{x:.6}");
            let line = [
                format!("{:.6}", t.target),
                csv_field(&c.regime),
                csv_field(&c.experiment),
                c.n.to_string(),
                f6(c.mean),
                opt(c.std, f6),
                opt(c.ci95, f6),
                opt(c.ci95, |h| f6(c.mean - h)),
                opt(c.ci95, |h| f6(c.mean + h)),
                f6(c.val_mean),
                format!("{:.3}", c.epochs),
                format!("{:.6e}", c.train_flops),
                f6(c.sparsity),
                c.configurations.len().to_string(),
                (t.best_mean == c.regime).to_string(),
                csv_field(t.winner.as_deref().unwrap_or("")),
                t.significant.to_string(),
                opt(t.p_value, |p| format!("{p:.6e}")),
                opt(t.min_detectable_difference, f6),
                csv_field(&t.recommended),
                csv_field(&t.verdict),
                vs_best(t, &c.regime).to_string(),
                t.seeds_needed.map(|n| n.to_string()).unwrap_or_default(),
                opt(c.wall_s, |w| format!("{w:.3}")),
            ];
            s += &line.join(",");
            s.push('\n');
        }
    }
    s
}

/// This regime's verdict against the best mean at `t`: `best`, `better` (the best is
/// significantly better than it), `equivalent`, `inconclusive` or `untested`.
fn vs_best<'t>(t: &'t TargetSummary, regime: &str) -> &'t str {
    if t.best_mean == regime {
        return "best";
    }
    t.comparisons
        .iter()
        .find(|c| c.regime == regime)
        .map_or("untested", |c| c.verdict.as_str())
}

fn verdict(t: &TargetSummary, regime: &str) -> String {
    let recommended = if t.recommended == regime && t.runner_up.is_some() {
        match t.verdict.as_str() {
            "winner" => "**winner**",
            "equivalent" => "**use** (equivalent or better)",
            _ => "best mean, not resolved",
        }
    } else {
        ""
    };
    let against = match vs_best(t, regime) {
        "best" => "",
        "better" => "worse than the best",
        "equivalent" => "equivalent to the best",
        "inconclusive" => "not resolved against the best",
        _ => "untested",
    };
    match (recommended.is_empty(), against.is_empty()) {
        (true, true) if t.runner_up.is_none() => "only regime".into(),
        // The best mean, not used: a cheaper regime is shown equivalent to it.
        (true, true) => "best mean".into(),
        (false, true) => recommended.into(),
        (true, false) => against.into(),
        (false, false) => format!("{recommended}; {against}"),
    }
}

/// "mean ± half-width", or "mean (no CI)" with one seed.
fn mean_ci(m: Measure, mean: f64, ci95: Option<f64>) -> String {
    let ci = ci95.map_or_else(|| " (no CI)".into(), |h| format!(" ± {}", m.fmt(h)));
    format!("{}{ci}", m.fmt(mean))
}

pub(super) struct Tables {
    pub head: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

pub(super) fn results_table(summary: &Summary) -> Tables {
    let m = summary.options.measure;
    let mut rows = Vec::new();
    for t in &summary.targets {
        for c in t.regimes.values() {
            rows.push(vec![
                pct(t.target),
                c.regime.clone(),
                mean_ci(m, c.mean, c.ci95),
                c.n.to_string(),
                format!("{:.1}", c.epochs),
                format!("{:.3e}", c.train_flops),
                // Summaries written before wall time was reported have none: "–".
                c.wall_s.map_or_else(|| "–".into(), |w| format!("{w:.1}")),
                pct(c.sparsity),
            ]);
            if let Some(size) = &c.size {
                rows.last_mut()
                    .expect("pushed")
                    .extend([format!("{:.0}", size.params), format!("{:.3e}", size.flops)]);
            }
            rows.last_mut().expect("pushed").push(verdict(t, &c.regime));
            if let Some(p) = &c.pruned_only {
                rows.push(not_finetuned_row(t.target, c, p, m));
            }
        }
    }
    let mut head = vec![
        "target",
        "regime",
        match m {
            Measure::Top1 => "test top-1 (mean ± 95% CI)",
            Measure::Perplexity => "test perplexity (mean ± 95% CI; lower is better)",
        },
        "n",
        "epochs",
        "train FLOPs",
        "fine-tuning s",
        "realised sparsity",
    ];
    if summary.options.size_measure.is_some() {
        head.extend(["remaining params", "FLOPs / sample"]);
    }
    head.push("verdict");
    Tables { head, rows }
}

/// The row of a one-step cell's model measured before fine-tuning: no epochs, no cost, never
/// judged (the size columns, when shown, are the cell's: pruning fixes the size).
fn not_finetuned_row(target: f64, c: &CellSummary, p: &DenseSummary, m: Measure) -> Vec<String> {
    let mut row = vec![
        pct(target),
        format!("{}, not fine-tuned", c.regime),
        mean_ci(m, p.mean, p.ci95),
        p.n.to_string(),
        "0.0".into(),
        "0".into(),
        "0".into(),
        pct(c.sparsity),
    ];
    if let Some(size) = &c.size {
        row.extend([format!("{:.0}", size.params), format!("{:.3e}", size.flops)]);
    }
    row.push("reference (not judged)".into());
    row
}

pub(super) fn winners_table(summary: &Summary) -> Tables {
    let rows = summary
        .targets
        .iter()
        .map(|t| {
            vec![
                pct(t.target),
                t.recommended.clone(),
                match t.verdict.as_str() {
                    "inconclusive" => format!(
                        "not resolved{}",
                        t.seeds_needed
                            .map(|n| format!(" (≈ {n} seeds needed)"))
                            .unwrap_or_default()
                    ),
                    v => v.to_string(),
                },
                t.best_mean.clone(),
                t.runner_up.clone().unwrap_or_else(|| "–".into()),
                opt(t.difference, |d| summary.options.measure.fmt_diff(d)),
                pval(t.p_value),
                pval(t.comparisons.first().and_then(|c| c.p_adjusted)),
            ]
        })
        .collect();
    Tables {
        head: vec![
            "target",
            "use",
            "verdict",
            "best mean",
            "runner-up",
            "difference",
            "p (paired t)",
            if summary.options.sequential.is_some() {
                "p (design-adjusted)"
            } else {
                "p (Holm-adjusted)"
            },
        ],
        rows,
    }
}

//! The bottom line: the answer per sparsity range, in words, for the top of the report.

use crate::Measure;
use crate::analysis::{Summary, TargetSummary, pct};

/// The answer in a few lines: consecutive targets with the same answer form one range.
pub fn bottom_line(summary: &Summary) -> Vec<String> {
    let m = summary.options.measure;
    let margin = m.fmt_margin(summary.margin);
    let key = |t: &TargetSummary| match t.verdict.as_str() {
        "inconclusive" => "inconclusive".to_string(),
        v => format!("{v}/{}/{}", t.recommended, t.recommended == t.best_mean),
    };
    let mut lines = Vec::new();
    let mut i = 0;
    while i < summary.targets.len() {
        let k = key(&summary.targets[i]);
        let mut j = i;
        while j + 1 < summary.targets.len() && key(&summary.targets[j + 1]) == k {
            j += 1;
        }
        let run = &summary.targets[i..=j];
        lines.push(format!("{}: {}", range(run), answer(run, &margin, m)));
        i = j + 1;
    }
    lines
}

/// "50%–90%" or "95%".
fn range(run: &[TargetSummary]) -> String {
    let (a, b) = (run[0].target, run[run.len() - 1].target);
    if run.len() == 1 {
        pct(a)
    } else {
        format!("{}–{}", pct(a), pct(b))
    }
}

/// "a–b" of the values, or one value when they agree to the shown precision.
fn span(values: impl Iterator<Item = f64>, fmt: impl Fn(f64) -> String) -> String {
    let v: Vec<f64> = values.collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (a, b) = (fmt(lo), fmt(hi));
    if a == b { a } else { format!("{a}–{b}") }
}

/// One range's answer in words.
fn answer(run: &[TargetSummary], margin: &str, m: Measure) -> String {
    let t = &run[0];
    let seeds = run
        .iter()
        .flat_map(|t| t.regimes.values().map(|c| c.n))
        .max()
        .unwrap_or(0);
    match t.verdict.as_str() {
        "only" => format!("{} (the only regime measured)", t.recommended),
        "winner" => format!(
            "**{}** — significantly better than every other regime ({} {} the runner-up)",
            t.recommended,
            span(run.iter().filter_map(|t| t.difference), |d| m.fmt_diff(d)),
            m.over()
        ),
        "equivalent" if t.recommended != t.best_mean => format!(
            "**{}** — equivalent {} (±{margin}) to the best mean at {}× fewer fine-tuning epochs",
            t.recommended,
            m.quality(),
            span(
                run.iter().map(|t| {
                    let best = &t.regimes[&t.best_mean];
                    let chosen = &t.regimes[&t.recommended];
                    best.epochs / chosen.epochs.max(f64::MIN_POSITIVE)
                }),
                |r| format!("{r:.1}")
            )
        ),
        "equivalent" => format!(
            "**{}** — best mean; every other regime is worse or equivalent within ±{margin}",
            t.recommended
        ),
        _ => {
            let needed = if run.iter().all(|t| t.seeds_needed.is_some()) {
                format!(
                    "≈ {} seeds needed to resolve a difference of {margin}",
                    span(
                        run.iter().filter_map(|t| t.seeds_needed.map(|n| n as f64)),
                        |n| { format!("{n:.0}") }
                    )
                )
            } else {
                "the seeds needed cannot be estimated from these runs".into()
            };
            let best: std::collections::BTreeSet<&str> =
                run.iter().map(|t| t.best_mean.as_str()).collect();
            format!(
                "not resolved with {seeds} seeds (best mean: {}); {needed}",
                best.into_iter().collect::<Vec<_>>().join(", ")
            )
        }
    }
}

/// Under `--seeds auto`: how many seeds each target was given and why that is safe, for the
/// line under the bottom line. `None` for a fixed list of seeds.
pub fn design_line(summary: &Summary) -> Option<String> {
    let s = summary.options.sequential?;
    let seeds: Vec<String> = summary
        .targets
        .iter()
        .map(|t| {
            let n = t.regimes.values().map(|c| c.n).max().unwrap_or(0);
            format!("{} {n}", pct(t.target))
        })
        .collect();
    Some(format!(
        "Seeds were added sequentially (`--seeds auto`: {} to start, one more at a time while a target's answer was open, at most {}), seeds per target: {}. Every verdict is that of the design, not of a fixed-sample test — {} — so adding seeds until an answer appears does not make a false one likely (docs/statistics.md).",
        s.start,
        s.max,
        seeds.join(", "),
        summary.multiplicity
    ))
}

//! `summary.json`, `results.csv`, `report.md` and `report.html`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use shears_core::results::StepRow;

use crate::analysis::{Summary, TEST_NAME, pct, pp, pval};
use crate::plots;

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

/// Column names of `results.csv`.
pub const CSV_COLUMNS: [&str; 19] = [
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
];

/// `results.csv`: one line per (target, regime), the target-level verdict repeated on each.
pub fn results_csv(summary: &Summary) -> String {
    let mut s = CSV_COLUMNS.join(",");
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
            ];
            s += &line.join(",");
            s.push('\n');
        }
    }
    s
}

fn verdict(t: &crate::analysis::TargetSummary, regime: &str) -> String {
    if t.winner.as_deref() == Some(regime) {
        "**winner**".into()
    } else if t.best_mean == regime && t.runner_up.is_some() {
        "best mean, not significant".into()
    } else if t.tied_with_best.iter().any(|r| r == regime)
        && t.cheapest_tied == regime
        && t.runner_up.is_some()
    {
        "tied; cheapest".into()
    } else if t.tied_with_best.iter().any(|r| r == regime) {
        "tied with best".into()
    } else {
        "significantly worse".into()
    }
}

struct Tables {
    head: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

fn results_table(summary: &Summary) -> Tables {
    let mut rows = Vec::new();
    for t in &summary.targets {
        for c in t.regimes.values() {
            rows.push(vec![
                pct(t.target),
                c.regime.clone(),
                format!(
                    "{}{}",
                    pct(c.mean),
                    c.ci95
                        .map(|h| format!(" ± {}", pct(h)))
                        .unwrap_or_else(|| " (no CI)".into())
                ),
                c.n.to_string(),
                format!("{:.1}", c.epochs),
                format!("{:.3e}", c.train_flops),
                pct(c.sparsity),
            ]);
            if let Some(size) = &c.size {
                rows.last_mut()
                    .expect("pushed")
                    .extend([format!("{:.0}", size.params), format!("{:.3e}", size.flops)]);
            }
            rows.last_mut().expect("pushed").push(verdict(t, &c.regime));
        }
    }
    let mut head = vec![
        "target",
        "regime",
        "test top-1 (mean ± 95% CI)",
        "n",
        "epochs",
        "train FLOPs",
        "realised sparsity",
    ];
    if summary.options.size_measure.is_some() {
        head.extend(["remaining params", "FLOPs / sample"]);
    }
    head.push("verdict");
    Tables { head, rows }
}

fn winners_table(summary: &Summary) -> Tables {
    let rows = summary
        .targets
        .iter()
        .map(|t| {
            vec![
                pct(t.target),
                t.winner
                    .clone()
                    .unwrap_or_else(|| "none (no significant difference)".into()),
                t.best_mean.clone(),
                t.runner_up.clone().unwrap_or_else(|| "–".into()),
                opt(t.difference, pp),
                pval(t.p_value),
                opt(t.min_detectable_difference, |m| {
                    pp(m).trim_start_matches('+').to_string()
                }),
                t.cheapest_tied.clone(),
            ]
        })
        .collect();
    Tables {
        head: vec![
            "target",
            "winner",
            "best mean",
            "runner-up",
            "difference",
            "p (paired t)",
            "min. detectable diff.",
            "cheapest tied",
        ],
        rows,
    }
}

fn md_table(t: &Tables) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut s = format!(
        "| {} |\n|{}\n",
        t.head.join(" | "),
        "---|".repeat(t.head.len())
    );
    for r in &t.rows {
        s += &format!(
            "| {} |\n",
            r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
        );
    }
    s
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Minimal inline markdown for table cells and prose: `**bold**` only.
fn html_inline(s: &str) -> String {
    let e = html_escape(s);
    let mut out = String::new();
    for (i, part) in e.split("**").enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<strong>{part}</strong>");
        } else {
            out += part;
        }
    }
    out
}

fn html_table(t: &Tables) -> String {
    let mut s = String::from("<table>\n<thead><tr>");
    for h in &t.head {
        let _ = write!(s, "<th>{}</th>", html_escape(h));
    }
    s += "</tr></thead>\n<tbody>\n";
    for r in &t.rows {
        s += "<tr>";
        for c in r {
            let _ = write!(s, "<td>{}</td>", html_inline(c));
        }
        s += "</tr>\n";
    }
    s += "</tbody>\n</table>\n";
    s
}

const HOW_TO_READ: &[&str] = &[
    "A *run* is one experiment id with one seed; its result is its last pruning step. Runs of different regimes with the same seed start from the same dense model, so regimes are compared **paired by seed**.",
    "Each cell is the mean final test top-1 over seeds of one configuration, ± the half-width of a 95% Student t confidence interval (n − 1 degrees of freedom). With one seed there is no CI.",
    "When a regime was run with several configurations at one target (e.g. different patience or step size), the one kept is the one with the best mean **validation** accuracy; its **test** accuracy is reported. (The paper selected on test, which is optimistic.)",
    "Error bars are each regime's own CI over seeds. Seeds share the dense model, so seed-to-seed variation cancels in paired differences: a paired difference can be significant although the bars overlap.",
    "*Winner* is declared only when the best mean is significantly higher than the runner-up (two-sided paired t-test over seeds, α = 0.05). Otherwise the report says there is no significant difference and names the cheapest regime (fewest fine-tuning epochs) among those not significantly worse than the best.",
    "*Min. detectable diff.* is the difference a paired t-test with this many seeds would detect with 80% power at α = 0.05, given the observed spread; differences below it may be real but are not resolved by these seeds. Tests are not corrected for multiple comparisons across targets.",
    "Epochs are cumulative fine-tuning epochs including patience epochs after the best one (the paper's budget); FLOPs are 3 × effective forward FLOPs × samples seen during fine-tuning. Ranking, validation and pre-training costs are not counted.",
    "The crossover is where the iterative − one-shot difference changes sign between measured targets (linear interpolation); its band is where the interpolated 95% CI of the difference contains zero.",
];

const FIGURES: &[(&str, &str)] = &[
    (
        "fig-accuracy-vs-sparsity",
        "Test top-1 vs realised sparsity per regime (paper Fig. 2)",
    ),
    (
        "fig-accuracy-vs-epochs",
        "Test top-1 after every step vs cumulative fine-tuning epochs, per target (paper Fig. 4)",
    ),
    (
        "fig-hybrid-trajectory",
        "Hybrid runs after every pruning step (paper Fig. 6)",
    ),
];

fn dense_line(summary: &Summary) -> String {
    match &summary.dense {
        Some(d) => format!(
            "Dense baseline (step 0): test top-1 {}{} over {} seed(s){}.",
            pct(d.mean),
            d.ci95.map(|h| format!(" ± {}", pct(h))).unwrap_or_default(),
            d.n,
            d.std
                .map(|s| format!(", std {}", pct(s)))
                .unwrap_or_default()
        ),
        None => "No dense (step 0) rows were given.".into(),
    }
}

fn overview(summary: &Summary) -> String {
    format!(
        "{} runs; one-shot side `{}`, iterative side `{}`; selection: {}; test: {}, α = {}.",
        summary.runs,
        summary.crossover.one_shot,
        summary.crossover.iterative,
        summary.selection,
        TEST_NAME,
        summary.alpha
    )
}

/// `report.md`.
pub fn report_md(summary: &Summary, figures: &[&str]) -> String {
    let mut s = String::from("# shears: one-shot vs iterative vs hybrid pruning\n\n");
    if let Some(text) = &summary.incomplete {
        s += &format!("> **Warning: {text}**\n\n");
    }
    s += &format!("{}\n\n{}\n\n", overview(summary), dense_line(summary));
    s += "## Results\n\n";
    s += &md_table(&results_table(summary));
    s += "\n## Verdict per target\n\n";
    s += &md_table(&winners_table(summary));
    s += "\n";
    for t in &summary.targets {
        s += &format!("- **{}**: {}.\n", pct(t.target), t.statement);
    }
    s += "\n## Crossover\n\n";
    s += &format!("{}.\n\n", summary.crossover.statement);
    s += &format!("Method: {}\n\n", summary.crossover.method);
    s += "## Recommendation\n\n";
    s += &format!("{}.\n\n", summary.recommendation.text);
    for r in &summary.recommendations_by_target {
        s += &format!("- {}.\n", r.text);
    }
    if !summary.failed.is_empty() {
        s += "\n## Failed runs\n\n";
        s += "These runs stopped on their own and are left out of every statistic above (their cells have fewer seeds).\n\n";
        s += "| regime | target | seed | experiment | steps done | reason |\n|---|---|---|---|---|---|\n";
        for f in &summary.failed {
            s += &format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                f.regime,
                pct(f.target),
                f.seed,
                f.experiment,
                f.completed_step,
                f.reason.replace('|', "/")
            );
        }
    }
    s += "\n## Figures\n\n";
    for (stem, caption) in FIGURES {
        if figures.contains(stem) {
            s += &format!("![{caption}]({stem}.png)\n\n*{caption}* ([SVG]({stem}.svg))\n\n");
        }
    }
    s += "## How to read this\n\n";
    for h in HOW_TO_READ {
        s += &format!("- {h}\n");
    }
    if !summary.warnings.is_empty() {
        s += "\n## Warnings\n\n";
        for w in &summary.warnings {
            s += &format!("- {w}\n");
        }
    }
    s += "\n## Configuration\n\n```json\n";
    s += &serde_json::to_string_pretty(&summary.config).unwrap_or_default();
    s += "\n```\n";
    s
}

/// Strips the XML declaration so an SVG file can be inlined in HTML.
fn inline_svg(svg: &str) -> &str {
    match (svg.starts_with("<?xml"), svg.find("?>")) {
        (true, Some(i)) => svg[i + 2..].trim_start(),
        _ => svg,
    }
}

/// `code` spans and *emphasis* as used in the fixed texts, after [`html_inline`].
fn md_to_html(s: &str) -> String {
    let e = html_inline(s);
    let mut out = String::new();
    for (i, part) in e.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            let mut em = String::new();
            for (j, p) in part.split('*').enumerate() {
                if j % 2 == 1 {
                    let _ = write!(em, "<em>{p}</em>");
                } else {
                    em += p;
                }
            }
            out += &em;
        }
    }
    out
}

/// Everything of `report.html` up to and including the page title.
const HTML_HEAD: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>shears report</title>\n<style>\n\
     body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\n\
     table{border-collapse:collapse;margin:1em 0;font-size:0.92em}\n\
     th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}\n\
     th{background:#f2f2f2}\ntr:nth-child(even) td{background:#fafafa}\n\
     figure{margin:1.5em 0}\nfigure svg{max-width:100%;height:auto;border:1px solid #eee}\n\
     figcaption{font-style:italic;color:#555}\npre{background:#f6f6f6;padding:0.8em;overflow-x:auto}\n\
     </style>\n</head>\n<body>\n<h1>shears: one-shot vs iterative vs hybrid pruning</h1>\n";

/// `report.html`: self-contained (inline CSS and inline SVG figures).
pub fn report_html(summary: &Summary, svgs: &[(&str, String)]) -> String {
    let mut s = String::from(HTML_HEAD);
    if let Some(text) = &summary.incomplete {
        let _ = writeln!(
            s,
            "<p style=\"border:2px solid #c00;padding:0.6em\"><strong>Warning: {}</strong></p>",
            html_escape(text)
        );
    }
    let _ = write!(
        s,
        "<p>{}</p>\n<p>{}</p>\n",
        md_to_html(&overview(summary)),
        html_escape(&dense_line(summary))
    );
    s += "<h2>Results</h2>\n";
    s += &html_table(&results_table(summary));
    s += "<h2>Verdict per target</h2>\n";
    s += &html_table(&winners_table(summary));
    s += &html_verdicts(summary);
    s += &html_failed(summary);
    s += &html_figures(svgs);
    s += "<h2>How to read this</h2>\n<ul>\n";
    for h in HOW_TO_READ {
        let _ = writeln!(s, "<li>{}</li>", md_to_html(h));
    }
    s += "</ul>\n";
    if !summary.warnings.is_empty() {
        s += "<h2>Warnings</h2>\n<ul>\n";
        for w in &summary.warnings {
            let _ = writeln!(s, "<li>{}</li>", html_escape(w));
        }
        s += "</ul>\n";
    }
    let _ = write!(
        s,
        "<h2>Configuration</h2>\n<pre>{}</pre>\n</body>\n</html>\n",
        html_escape(&serde_json::to_string_pretty(&summary.config).unwrap_or_default())
    );
    s
}

/// The per-target statements, the crossover and the recommendations.
fn html_verdicts(summary: &Summary) -> String {
    let mut s = String::from("<ul>\n");
    for t in &summary.targets {
        let _ = writeln!(
            s,
            "<li><strong>{}</strong>: {}.</li>",
            pct(t.target),
            html_escape(&t.statement)
        );
    }
    s += "</ul>\n<h2>Crossover</h2>\n";
    let _ = write!(
        s,
        "<p>{}.</p>\n<p>Method: {}</p>\n",
        html_escape(&summary.crossover.statement),
        html_escape(&summary.crossover.method)
    );
    s += "<h2>Recommendation</h2>\n";
    let _ = writeln!(
        s,
        "<p>{}.</p>\n<ul>",
        html_escape(&summary.recommendation.text)
    );
    for r in &summary.recommendations_by_target {
        let _ = writeln!(s, "<li>{}.</li>", html_escape(&r.text));
    }
    s += "</ul>\n";
    s
}

/// The failed-runs section (empty when no run failed).
fn html_failed(summary: &Summary) -> String {
    let mut s = String::new();
    if summary.failed.is_empty() {
        return s;
    }
    s += "<h2>Failed runs</h2>\n<p>These runs stopped on their own and are left out of every statistic above.</p>\n<table>\n<tr><th>regime</th><th>target</th><th>seed</th><th>experiment</th><th>steps done</th><th>reason</th></tr>\n";
    for f in &summary.failed {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&f.regime),
            pct(f.target),
            f.seed,
            html_escape(&f.experiment),
            f.completed_step,
            html_escape(&f.reason)
        );
    }
    s += "</table>\n";
    s
}

/// The figures section: each SVG inlined with its caption.
fn html_figures(svgs: &[(&str, String)]) -> String {
    let mut s = String::from("<h2>Figures</h2>\n");
    for (stem, caption) in FIGURES {
        if let Some((_, svg)) = svgs.iter().find(|(n, _)| n == stem) {
            let _ = write!(
                s,
                "<figure id=\"{stem}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
                inline_svg(svg),
                html_escape(caption)
            );
        }
    }
    s
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>, out: &mut Vec<PathBuf>) -> Result<()> {
    let p = dir.join(name);
    std::fs::write(&p, contents).with_context(|| format!("writing {}", p.display()))?;
    out.push(p);
    Ok(())
}

/// Writes the whole report into `dir` (created if missing) and returns the paths written:
/// `summary.json`, `results.csv`, the figures (SVG + PNG), `report.md`, `report.html`.
/// Identical inputs give byte-identical files.
pub fn write_report(
    dir: &Path,
    rows: &[StepRow],
    summary: &Summary,
    config: &serde_json::Value,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut summary = summary.clone();
    summary.config = config.clone();
    let mut out = Vec::new();
    let mut json = serde_json::to_string_pretty(&summary)?;
    json.push('\n');
    write(dir, "summary.json", json, &mut out)?;
    write(dir, "results.csv", results_csv(&summary), &mut out)?;
    let figs = plots::write_figures(dir, rows, &summary)?;
    let stems: Vec<&str> = FIGURES
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| figs.iter().any(|p| p.file_stem().is_some_and(|f| f == *s)))
        .collect();
    let mut svgs = Vec::new();
    for stem in &stems {
        let p = dir.join(format!("{stem}.svg"));
        svgs.push((
            *stem,
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?,
        ));
    }
    out.extend(figs);
    write(dir, "report.md", report_md(&summary, &stems), &mut out)?;
    write(dir, "report.html", report_html(&summary, &svgs), &mut out)?;
    Ok(out)
}

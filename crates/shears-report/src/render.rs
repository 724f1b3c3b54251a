//! `summary.json`, `results.csv`, `report.md` and `report.html`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use shears_core::results::StepRow;

use crate::analysis::{Summary, TEST_NAME, pct};
use crate::{Measure, plots};

mod answer;
mod tables;

pub use answer::{bottom_line, design_line};
pub use tables::{CSV_COLUMNS, csv_columns, results_csv};
use tables::{Tables, results_table, winners_table};

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
    "A *run* is one experiment id with one seed; its result is its last pruning step. Runs of different regimes with the same seed start from the same dense model, so regimes are compared **paired by seed**: each test works on the per-seed differences, in which the seed-to-seed spread cancels.",
    "Each cell is the mean final {name} over seeds of one configuration, ± the half-width of a 95% Student t confidence interval (n − 1 degrees of freedom). With one seed there is no CI.",
    "When a regime was run with several configurations at one target (e.g. different patience or step size), the one kept is the one with the best mean **validation** {quality}; its **test** {quality} is reported. (The paper selected on test, which is optimistic.)",
    "Every pair of regimes at every target gets one of three verdicts: *better* (two-sided paired t-test), *equivalent* (the mean difference is shown to lie within ± the margin by two one-sided paired tests, TOST), or *not resolved*. \"Not significantly different\" is never read as \"the same\". The p-values of all pairs are Holm-corrected as one family (and the equivalence tests as another), so looking at many targets does not produce a winner by chance; raw and adjusted p are both shown. With `--seeds auto` the correction is that of a group-sequential design instead (stated under the bottom line).",
    "The regime to *use* is the best mean, unless a cheaper regime (fewer mean fine-tuning epochs) is shown equivalent to it. Training FLOPs are shown beside; where they rank the two the other way, the text says the cost measures disagree. A verdict that is not resolved gives the seeds per regime that would resolve a difference of the margin at 80% power, from the observed spread of the paired differences (docs/statistics.md).",
    "Because tests are paired, a regime with a {worse} mean can be *not resolved* against the best while one with a {better} mean is significantly worse: what decides is how consistent the per-seed differences are, not the distance between means. Error bars are each regime's own CI over seeds; a paired difference can be significant although the bars overlap.",
    "Epochs are cumulative fine-tuning epochs including patience epochs after the best one (the paper's budget); FLOPs are 3 × effective forward FLOPs × samples seen during fine-tuning. Ranking, validation and pre-training costs are not counted.",
    "A crossover is located only between targets where the iterative − one-shot difference is significantly non-zero (Holm-adjusted) on both sides with opposite signs; a sign change of the means anywhere else is reported as not resolved.",
];

/// The perplexity report's extra item of "How to read this", second in the list.
const LOWER_IS_BETTER: &str = "The measure is test **perplexity**, exp(test loss in nats per token): **lower is better**. The best mean is the lowest; a difference best − other is negative; \"better\" and \"worse\" follow that direction. The equivalence margin is relative: ±{margin} perplexity at that target (docs/statistics.md).";

const NOT_FINETUNED: &str = "A row \"…, not fine-tuned\" is the same one-step runs measured right after pruning, before any fine-tuning (the point LLM pruning papers report): what fine-tuning added is the difference to the row above. It is shown for reference and never judged.";

/// "How to read this" in the words of the summary's measure (`{…}` filled in).
fn how_to_read(summary: &Summary) -> Vec<String> {
    let m = summary.options.measure;
    let (better, worse) = if m.higher_is_better() {
        ("higher", "lower")
    } else {
        ("lower", "higher")
    };
    let fill = |s: &str| {
        s.replace("{name}", m.name())
            .replace("{quality}", m.quality())
            .replace("{better}", better)
            .replace("{worse}", worse)
            .replace("{margin}", &m.fmt_margin(summary.margin))
    };
    let mut items: Vec<String> = HOW_TO_READ.iter().map(|s| fill(s)).collect();
    if !m.higher_is_better() {
        items.insert(1, fill(LOWER_IS_BETTER));
    }
    let not_finetuned = summary
        .targets
        .iter()
        .any(|t| t.regimes.values().any(|c| c.pruned_only.is_some()));
    if not_finetuned {
        items.push(NOT_FINETUNED.into());
    }
    items
}

/// The figures' stems and captions (`{title}`: the measure's name, capitalised).
const FIGURES: &[(&str, &str)] = &[
    (
        "fig-accuracy-vs-sparsity",
        "{title} vs realised sparsity per regime (paper Fig. 2)",
    ),
    (
        "fig-difference",
        "Iterative − one-shot paired difference per target, with its 95% CI: a crossover is where it is significantly below zero on one side and above on the other",
    ),
    (
        "fig-accuracy-vs-epochs",
        "{title} after every step vs cumulative fine-tuning epochs, per target (paper Fig. 4)",
    ),
    (
        "fig-hybrid-trajectory",
        "Hybrid runs after every pruning step (paper Fig. 6)",
    ),
];

/// A figure's caption in the words of the measure; the difference figure says which side of
/// zero is better when lower is.
fn caption(stem: &str, caption: &str, m: Measure) -> String {
    let mut c = caption.replace("{title}", m.title());
    if stem == "fig-difference" && !m.higher_is_better() {
        c += " (lower is better: below zero, the iterative regime has the lower perplexity)";
    }
    c
}

fn dense_line(summary: &Summary) -> String {
    let m = summary.options.measure;
    match &summary.dense {
        Some(d) => format!(
            "Dense baseline (step 0): {} {}{} over {} seed(s){}.",
            m.name(),
            m.fmt(d.mean),
            d.ci95
                .map(|h| format!(" ± {}", m.fmt(h)))
                .unwrap_or_default(),
            d.n,
            d.std
                .map(|s| format!(", std {}", m.fmt(s)))
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
    s += "## Bottom line\n\n";
    for line in bottom_line(summary) {
        s += &format!("- {line}.\n");
    }
    if let Some(d) = design_line(summary) {
        s += &format!("\n{d}\n");
    }
    s += &format!("\n{}\n\n{}\n\n", overview(summary), dense_line(summary));
    for (stem, caption) in FIGURES {
        if figures.contains(stem) {
            let caption = self::caption(stem, caption, summary.options.measure);
            s += &format!("![{caption}]({stem}.png)\n\n*{caption}* ([SVG]({stem}.svg))\n\n");
        }
    }
    s += "## Verdict per target\n\n";
    s += &md_table(&winners_table(summary));
    s += "\n";
    for t in &summary.targets {
        s += &format!("- **{}**: {}.\n", pct(t.target), t.statement);
    }
    s += "\n## Results\n\n";
    s += &md_table(&results_table(summary));
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
    s += "\n## How to read this\n\n";
    for h in how_to_read(summary) {
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
    s += "<h2>Bottom line</h2>\n<ul>\n";
    for line in bottom_line(summary) {
        let _ = writeln!(s, "<li>{}.</li>", html_inline(&line));
    }
    s += "</ul>\n";
    if let Some(d) = design_line(summary) {
        let _ = writeln!(s, "<p>{}</p>", html_inline(&d));
    }
    let _ = write!(
        s,
        "<p>{}</p>\n<p>{}</p>\n",
        md_to_html(&overview(summary)),
        html_escape(&dense_line(summary))
    );
    s += &html_figures(svgs, summary.options.measure);
    s += "<h2>Verdict per target</h2>\n";
    s += &html_table(&winners_table(summary));
    s += &html_verdicts(summary);
    s += "<h2>Results</h2>\n";
    s += &html_table(&results_table(summary));
    s += &html_failed(summary);
    s += "<h2>How to read this</h2>\n<ul>\n";
    for h in how_to_read(summary) {
        let _ = writeln!(s, "<li>{}</li>", md_to_html(&h));
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
fn html_figures(svgs: &[(&str, String)], m: Measure) -> String {
    let mut s = String::new();
    for (stem, caption) in FIGURES {
        if let Some((_, svg)) = svgs.iter().find(|(n, _)| n == stem) {
            let _ = write!(
                s,
                "<figure id=\"{stem}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
                inline_svg(svg),
                html_escape(&self::caption(stem, caption, m))
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

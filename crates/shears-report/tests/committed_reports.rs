//! The committed comparison reports (`docs/results/*/`) are what the renderers make of their
//! own `summary.json`: `results.csv`, `report.md` and `report.html` (with the committed SVG
//! figures inlined) regenerate byte for byte. The runs behind them are not committed, so the
//! analysis and the figures cannot be recomputed here; the text of every report can.
//!
//! A deliberate change of the report's text or layout fails this test until the committed
//! reports follow it: `SHEARS_REGENERATE_REPORTS=1 cargo test -p shears-report --test
//! committed_reports` rewrites the three files from each `summary.json`.

use std::path::{Path, PathBuf};

use shears_report::{Summary, report_html, report_md, results_csv};

const FIGURES: [&str; 4] = [
    "fig-accuracy-vs-sparsity",
    "fig-difference",
    "fig-accuracy-vs-epochs",
    "fig-hybrid-trajectory",
];

fn report_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/results");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("summary.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// `(file name, contents)` of the three text outputs rendered from `dir/summary.json`.
fn render(dir: &Path) -> Vec<(&'static str, String)> {
    let json = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    let summary: Summary = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{}/summary.json: {e}", dir.display()));
    let stems: Vec<&str> = FIGURES
        .into_iter()
        .filter(|s| dir.join(format!("{s}.svg")).is_file())
        .collect();
    let svgs: Vec<(&str, String)> = stems
        .iter()
        .map(|s| {
            let svg = std::fs::read_to_string(dir.join(format!("{s}.svg"))).unwrap();
            (*s, svg)
        })
        .collect();
    vec![
        ("results.csv", results_csv(&summary)),
        ("report.md", report_md(&summary, &stems)),
        ("report.html", report_html(&summary, &svgs)),
    ]
}

#[test]
fn committed_reports_regenerate_byte_for_byte() {
    let dirs = report_dirs();
    assert!(!dirs.is_empty(), "no committed report found");
    let regenerate = std::env::var_os("SHEARS_REGENERATE_REPORTS").is_some();
    for dir in dirs {
        for (name, text) in render(&dir) {
            let path = dir.join(name);
            if regenerate {
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            let committed = std::fs::read_to_string(&path).unwrap();
            assert!(
                committed == text,
                "{} differs from what its summary.json renders to \
                 (SHEARS_REGENERATE_REPORTS=1 rewrites it)",
                path.display()
            );
        }
    }
}

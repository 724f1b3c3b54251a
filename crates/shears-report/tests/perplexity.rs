//! The analysis and report judged by test perplexity (lower is better) on synthetic rows.
//!
//! Each test is built so that ignoring the direction (treating perplexity as higher-is-better),
//! reading top-1 instead of the loss, or an absolute margin would give a different answer.

use std::path::{Path, PathBuf};

use shears_core::results::StepRow;
use shears_report::*;

const DENSE_PPL: f64 = 20.0;

/// One regime's final results: name, fine-tuning epochs, and per seed i its final test
/// perplexity and test top-1 (next-token accuracy).
struct Arm<'a> {
    regime: &'a str,
    epochs: usize,
    ppl: &'a dyn Fn(usize) -> f64,
    top1: f64,
}

/// The dense model of seed i: a shared multiplicative effect that pairing cancels.
fn seed_effect(i: usize) -> f64 {
    1.0 + 0.02 * (i as f64 * 1.7).sin()
}

/// Rows of one run: step 0 (dense) then one pruning step ending at `ppl` (validation a little
/// worse than test).
fn run(
    experiment: &str,
    regime: &str,
    target: f64,
    seed: usize,
    ppl: f64,
    top1: f64,
    epochs: usize,
) -> Vec<StepRow> {
    let dense = DENSE_PPL * seed_effect(seed);
    (0..=1)
        .map(|step| {
            let (p, e, s) = if step == 0 {
                (dense, 0, 0.0)
            } else {
                (ppl, epochs, target)
            };
            StepRow {
                experiment: experiment.into(),
                regime: regime.into(),
                target,
                repeat: seed,
                seed: 100 + seed as u64,
                step,
                fraction_removed: s,
                planned_sparsity: s,
                sparsity: s,
                model_sparsity: s * 0.99,
                remaining_params: (1_000_000.0 * (1.0 - s)) as u64,
                flops_dense: 1_000_000,
                flops_effective: (1_000_000.0 * (1.0 - s)) as u64,
                epochs: e,
                cum_epochs: e,
                best_epoch: e,
                cum_train_flops: e as f64 * 1e12,
                wall_s: e as f64,
                cum_wall_s: e as f64,
                val_top1: top1 - 0.01,
                val_top5: 0.9,
                val_loss: (p * 1.01).ln(),
                test_top1: top1,
                test_top5: 0.9,
                test_loss: p.ln(),
                pruned_test_top1: None,
                pruned_test_loss: None,
                threads: 1,
            }
        })
        .collect()
}

/// `n` seeds of every arm at `target`.
fn grid(target: f64, n: usize, arms: &[Arm]) -> Vec<StepRow> {
    let mut rows = Vec::new();
    for a in arms {
        for i in 0..n {
            let ppl = (a.ppl)(i) * seed_effect(i);
            rows.extend(run(
                &format!("{}-t{target}", a.regime),
                a.regime,
                target,
                i,
                ppl,
                a.top1,
                a.epochs,
            ));
        }
    }
    rows
}

/// Small per-seed noise that sums to about zero.
fn wiggle(i: usize) -> f64 {
    0.03 * (i as f64 * 2.3).cos()
}

/// geometric has clearly the lower perplexity (28 vs 30) but the lower top-1 (0.35 vs 0.40),
/// and costs more epochs: top-1, or perplexity read as higher-is-better, picks one-shot.
fn clear_difference() -> Vec<StepRow> {
    let mut rows = Vec::new();
    for t in [0.5, 0.9] {
        rows.extend(grid(
            t,
            6,
            &[
                Arm {
                    regime: "one-shot",
                    epochs: 10,
                    ppl: &|i| 30.0 + wiggle(i),
                    top1: 0.40,
                },
                Arm {
                    regime: "geometric",
                    epochs: 40,
                    ppl: &|i| 28.0 - wiggle(i),
                    top1: 0.35,
                },
            ],
        ));
    }
    rows
}

fn ppl_options() -> AnalysisOptions {
    AnalysisOptions::with_measure(Measure::Perplexity)
}

#[test]
fn the_regime_with_the_lower_perplexity_wins() {
    let s = analyze(&clear_difference(), &ppl_options());
    for t in &s.targets {
        assert_eq!(t.best_mean, "geometric", "{}", t.statement);
        assert_eq!(t.recommended, "geometric");
        assert_eq!(t.verdict, "winner", "{}", t.statement);
        assert_eq!(t.winner.as_deref(), Some("geometric"));
        // Real values: best − runner-up is negative for perplexity.
        let d = t.difference.unwrap();
        assert!((d + 2.0).abs() < 0.2, "difference {d}");
        assert_eq!(t.comparisons[0].verdict, "better");
        assert!((t.regimes["geometric"].mean - 28.0).abs() < 0.5);
        assert!(
            t.statement.starts_with("geometric wins: -"),
            "{}",
            t.statement
        );
        assert!(
            t.statement.contains("test perplexity mean"),
            "{}",
            t.statement
        );
    }
    assert_eq!(
        s.recommendations_by_target[0].regime.as_deref(),
        Some("geometric")
    );
    assert_eq!(s.recommendations_by_target[0].basis, "winner");
    // The same rows judged by top-1 pick the other regime: the measure decides.
    let top1 = analyze(&clear_difference(), &AnalysisOptions::default());
    assert!(top1.targets.iter().all(|t| t.recommended == "one-shot"));
}

#[test]
fn a_cheaper_regime_within_one_percent_is_equivalent() {
    // 100.0 (40 epochs) vs 100.3 (10 epochs): 0.3% apart, inside the relative 1% margin (1.0
    // perplexity) but far outside an absolute margin of 0.01.
    let rows = grid(
        0.9,
        8,
        &[
            Arm {
                regime: "geometric",
                epochs: 40,
                ppl: &|i| 100.0 + wiggle(i),
                top1: 0.3,
            },
            Arm {
                regime: "one-shot",
                epochs: 10,
                ppl: &|i| 100.3 - wiggle(i),
                top1: 0.3,
            },
        ],
    );
    let s = analyze(&rows, &ppl_options());
    let t = &s.targets[0];
    assert_eq!(s.margin, DEFAULT_PERPLEXITY_MARGIN);
    assert_eq!(t.best_mean, "geometric");
    assert_eq!(t.recommended, "one-shot", "{}", t.statement);
    assert_eq!(t.verdict, "equivalent");
    assert!(
        t.statement
            .contains("equivalent to the best mean geometric"),
        "{}",
        t.statement
    );
    assert_eq!(s.recommendations_by_target[0].basis, "equivalent_cheaper");
    assert!(
        s.multiplicity.contains("TOST at ±1.00% of the best mean"),
        "{}",
        s.multiplicity
    );
    let md = report_md(&s, &[]);
    assert!(
        md.contains("**one-shot** — equivalent perplexity (±1.00% of the best mean) to the best mean at 4.0× fewer"),
        "{md}"
    );
    // A margin of 0.1% (0.1 perplexity) no longer covers the 0.3 gap: the best mean stands.
    let tight = AnalysisOptions {
        margin: 0.001,
        ..ppl_options()
    };
    let t = &analyze(&rows, &tight).targets[0];
    assert_eq!(t.recommended, "geometric", "{}", t.statement);
}

#[test]
fn a_run_with_a_non_finite_loss_is_dropped_with_a_warning() {
    let mut rows = clear_difference();
    let last = rows
        .iter_mut()
        .rfind(|r| r.regime == "one-shot" && r.target == 0.9 && r.repeat == 2)
        .unwrap();
    last.test_loss = f64::INFINITY;
    let nan = rows
        .iter_mut()
        .rfind(|r| r.regime == "geometric" && r.target == 0.9 && r.repeat == 4)
        .unwrap();
    nan.val_loss = f64::NAN;
    let s = analyze(&rows, &ppl_options());
    let dropped: Vec<&String> = s
        .warnings
        .iter()
        .filter(|w| w.contains("non-finite final perplexity"))
        .collect();
    assert_eq!(dropped.len(), 2, "{:?}", s.warnings);
    assert!(
        dropped
            .iter()
            .any(|w| w.contains("seed 102") && w.contains("test_loss inf"))
    );
    let t = s.targets.iter().find(|t| t.target == 0.9).unwrap();
    assert_eq!(t.regimes["one-shot"].n, 5);
    assert_eq!(t.regimes["geometric"].n, 5);
    assert!(t.regimes.values().all(|c| c.mean.is_finite()));
    assert_eq!(t.recommended, "geometric");
    // Judged by top-1, whose values are finite, the runs count.
    let top1 = analyze(&rows, &AnalysisOptions::default());
    assert!(top1.warnings.iter().all(|w| !w.contains("non-finite")));
}

#[test]
fn the_crossover_follows_the_direction() {
    // geometric − one-shot perplexity: +1 at 50% and 70% (one-shot better), −1 at 90% and 95%
    // (geometric better): geometric overtakes one-shot between 70% and 90%.
    let mut rows = Vec::new();
    for (t, d) in [(0.5, 1.0), (0.7, 1.0), (0.9, -1.0), (0.95, -1.0)] {
        rows.extend(grid(
            t,
            6,
            &[
                Arm {
                    regime: "one-shot",
                    epochs: 10,
                    ppl: &|i| 30.0 + wiggle(i),
                    top1: 0.4,
                },
                Arm {
                    regime: "geometric",
                    epochs: 40,
                    ppl: &move |i| 30.0 + d - wiggle(i),
                    top1: 0.4,
                },
            ],
        ));
    }
    let c = analyze(&rows, &ppl_options()).crossover;
    assert!(c.resolved, "{}", c.statement);
    assert_eq!(c.crossings.len(), 1);
    assert_eq!(
        c.crossings[0].direction,
        shears_core::stats::CrossDirection::Up
    );
    assert_eq!(c.crossings[0].between, [0.7, 0.9]);
    assert!(
        c.statement
            .starts_with("geometric overtakes one-shot between 70.00% and 90.00%"),
        "{}",
        c.statement
    );
    assert!(c.points[0].difference > 0.0 && c.points[3].difference < 0.0);
    assert!(c.method.contains("final test perplexity"), "{}", c.method);
}

#[test]
fn the_configuration_with_the_lower_validation_perplexity_is_selected() {
    let mut rows = grid(
        0.9,
        4,
        &[Arm {
            regime: "geometric",
            epochs: 40,
            ppl: &|i| 25.0 + wiggle(i),
            top1: 0.3,
        }],
    );
    // A second geometric configuration, worse on validation and test.
    for i in 0..4 {
        rows.extend(run(
            "geometric-worse",
            "geometric",
            0.9,
            i,
            27.0 * seed_effect(i),
            0.5,
            20,
        ));
    }
    let s = analyze(&rows, &ppl_options());
    let c = &s.targets[0].regimes["geometric"];
    assert_eq!(c.experiment, "geometric-t0.9");
    assert!((c.mean - 25.0).abs() < 0.6, "{}", c.mean);
    assert!(
        s.selection
            .contains("best mean validation perplexity (lowest)"),
        "{}",
        s.selection
    );
}

#[test]
fn the_summary_records_the_measure_and_reads_back() {
    let s = analyze(&clear_difference(), &ppl_options());
    assert_eq!(s.schema_version, 3);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["options"]["measure"], "perplexity");
    let seed = &json["targets"][0]["regimes"]["geometric"]["seeds"][0];
    let (ppl, top1) = (
        seed["test_ppl"].as_f64().unwrap(),
        seed["test_top1"].as_f64().unwrap(),
    );
    assert!((ppl - 28.0 * seed_effect(0)).abs() < 0.1, "{ppl}");
    assert_eq!(top1, 0.35);
    let back: Summary = serde_json::from_value(json).unwrap();
    assert_eq!(back, s);
    // A top-1 summary has neither.
    let json =
        serde_json::to_value(analyze(&clear_difference(), &AnalysisOptions::default())).unwrap();
    assert_eq!(json["schema_version"], 2);
    assert!(json["options"].get("measure").is_none());
    assert!(
        json["targets"][0]["regimes"]["geometric"]["seeds"][0]
            .get("test_ppl")
            .is_none()
    );
}

fn out_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("shears-report-perplexity")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A text of the report with the figure file names (`fig-accuracy-…`) taken out.
fn text(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap()
        .replace("fig-accuracy-vs-", "fig-")
}

#[test]
fn the_report_speaks_of_perplexity() {
    let mut rows = clear_difference();
    // A hybrid regime, so that every figure is drawn.
    rows.extend(grid(
        0.9,
        6,
        &[Arm {
            regime: "hybrid",
            epochs: 60,
            ppl: &|i| 29.0 + wiggle(i),
            top1: 0.3,
        }],
    ));
    let s = analyze(&rows, &ppl_options());
    let dir = out_dir("report");
    write_report(&dir, &rows, &s, &serde_json::json!({"model": "gpt-tiny"})).unwrap();
    for name in ["report.md", "report.html", "results.csv"] {
        // " pp" (percentage points) but not " ppl".
        let t = text(&dir, name).replace(" ppl", "");
        for banned in ["top-1", "top1", "accuracy", "accuracies", " pp"] {
            assert!(!t.contains(banned), "{name} says {banned:?}");
        }
    }
    let md = text(&dir, "report.md");
    assert!(
        md.contains("| test perplexity (mean ± 95% CI; lower is better) |"),
        "{md}"
    );
    assert!(
        md.contains("Dense baseline (step 0): test perplexity 20."),
        "{md}"
    );
    assert!(md.contains("**lower is better**"));
    assert!(
        md.contains(
            "- 50.00%–90.00%: **geometric** — significantly better than every other regime"
        ),
        "{md}"
    );
    assert!(md.contains("ppl vs the runner-up"), "{md}");
    let csv = text(&dir, "results.csv");
    assert!(csv.starts_with("target,regime,experiment,n,test_ppl_mean,test_ppl_std,test_ppl_ci95,test_ppl_ci_low,test_ppl_ci_high,val_ppl_mean,"));
    assert_eq!(csv_columns(Measure::Top1), CSV_COLUMNS.map(String::from));
    for fig in [
        "fig-accuracy-vs-sparsity",
        "fig-difference",
        "fig-accuracy-vs-epochs",
        "fig-hybrid-trajectory",
    ] {
        let svg = std::fs::read_to_string(dir.join(format!("{fig}.svg"))).unwrap();
        assert!(svg.contains("perplexity"), "{fig}");
        assert!(!svg.contains("top-1") && !svg.contains("accuracy"), "{fig}");
    }
    let diff = std::fs::read_to_string(dir.join("fig-difference.svg")).unwrap();
    assert!(
        diff.contains("(&lt; 0: geometric better)") || diff.contains("(< 0: geometric better)")
    );
}

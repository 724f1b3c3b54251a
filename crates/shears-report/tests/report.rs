//! End-to-end tests of the analysis and report on synthetic rows with known accuracies.
//!
//! Design: 3 seeds × regimes {one-shot, geometric, constant, hybrid} × targets
//! {0.5, 0.7, 0.8, 0.9, 0.98}. Final test top-1 = BASE[regime][target] + SEED_SHIFT[seed] +
//! NOISE[regime][seed]. The seed shift is shared by all regimes (same dense model) and cancels in
//! paired differences; each regime's noise sums to zero over seeds, so cell means equal BASE.

use std::path::{Path, PathBuf};

use shears_core::results::StepRow;
use shears_core::stats;
use shears_report::*;

const TARGETS: [f64; 5] = [0.5, 0.7, 0.8, 0.9, 0.98];
const REGIMES: [&str; 4] = ["one-shot", "geometric", "constant", "hybrid"];
const SEEDS: [u64; 3] = [11, 22, 33];
const SEED_SHIFT: [f64; 3] = [0.0, 0.01, -0.01];
const DENSE: f64 = 0.93;

fn base(regime: &str, target_index: usize) -> f64 {
    match regime {
        "one-shot" => [0.90, 0.88, 0.85, 0.78, 0.60][target_index],
        "geometric" => [0.86, 0.86, 0.85, 0.81, 0.68][target_index],
        "constant" => [0.84, 0.84, 0.83, 0.79, 0.62][target_index],
        "hybrid" => [0.89, 0.875, 0.852, 0.80, 0.66][target_index],
        _ => unreachable!(),
    }
}

fn noise(regime: &str, seed_index: usize) -> f64 {
    match regime {
        "one-shot" => [0.002, -0.001, -0.001][seed_index],
        "geometric" => [-0.002, 0.003, -0.001][seed_index],
        "constant" => [0.001, 0.0, -0.001][seed_index],
        "hybrid" => [0.0, 0.001, -0.001][seed_index],
        _ => [0.0, 0.0, 0.0][seed_index],
    }
}

/// Per-step fine-tuning epochs: one-shot 30; geometric and constant 4 × 15 = 60; hybrid 60 + 15 + 15 = 90.
fn step_epochs(regime: &str) -> Vec<usize> {
    match regime {
        "one-shot" => vec![30],
        "geometric" | "constant" => vec![15; 4],
        "hybrid" => vec![60, 15, 15],
        _ => vec![30],
    }
}

/// Rows of one run. `final_test` is the last step's test top-1; earlier steps interpolate from the
/// dense accuracy; validation = test + `val_offset`.
fn run_rows(
    experiment: &str,
    regime: &str,
    target: f64,
    seed_index: usize,
    final_test: f64,
    val_offset: f64,
) -> Vec<StepRow> {
    run_rows_with(
        experiment,
        regime,
        target,
        seed_index,
        final_test,
        val_offset,
        step_epochs(regime),
    )
}

fn run_rows_with(
    experiment: &str,
    regime: &str,
    target: f64,
    seed_index: usize,
    final_test: f64,
    val_offset: f64,
    epochs: Vec<usize>,
) -> Vec<StepRow> {
    let seed = SEEDS[seed_index];
    let dense = DENSE + SEED_SHIFT[seed_index];
    let n = epochs.len();
    let mut rows = Vec::new();
    let mut cum = 0;
    for step in 0..=n {
        let frac = step as f64 / n as f64;
        let sparsity = match regime {
            "hybrid" if step > 0 => target * (0.7 + 0.3 * (step - 1) as f64 / (n - 1) as f64),
            _ => target * frac,
        };
        let e = if step == 0 { 0 } else { epochs[step - 1] };
        cum += e;
        let test = if step == n {
            final_test
        } else {
            dense + (final_test - dense) * frac
        };
        rows.push(StepRow {
            experiment: experiment.into(),
            regime: regime.into(),
            target,
            repeat: seed_index,
            seed,
            step,
            fraction_removed: if step == 0 { 0.0 } else { target / n as f64 },
            planned_sparsity: sparsity,
            sparsity,
            model_sparsity: sparsity * 0.99,
            remaining_params: (1_000_000.0 * (1.0 - sparsity)) as u64,
            flops_dense: 1_000_000,
            flops_effective: (1_000_000.0 * (1.0 - sparsity)) as u64,
            epochs: e,
            cum_epochs: cum,
            best_epoch: e.min(5),
            cum_train_flops: cum as f64 * 1e12,
            wall_s: e as f64,
            cum_wall_s: cum as f64,
            val_top1: test + val_offset,
            val_top5: 0.99,
            val_loss: 1.0 - test,
            test_top1: test,
            test_top5: 0.99,
            test_loss: 1.0 - test,
        });
    }
    rows
}

fn synthetic(regimes: &[&str]) -> Vec<StepRow> {
    let mut rows = Vec::new();
    for (ti, &t) in TARGETS.iter().enumerate() {
        for &r in regimes {
            for (si, shift) in SEED_SHIFT.iter().enumerate() {
                let acc = base(r, ti) + shift + noise(r, si);
                rows.extend(run_rows(&format!("{r}-t{t}"), r, t, si, acc, 0.005));
            }
        }
    }
    rows
}

fn full() -> Vec<StepRow> {
    synthetic(&REGIMES)
}

fn target(s: &Summary, t: f64) -> &TargetSummary {
    s.targets
        .iter()
        .find(|x| (x.target - t).abs() < 1e-12)
        .expect("target present")
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

const T975_2: f64 = 4.302_652_729_911_275; // t_{0.975, 2}

#[test]
fn one_cell_matches_hand_computation() {
    let s = analyze(&full(), &AnalysisOptions::default());
    assert_eq!(s.runs, 5 * 4 * 3);
    assert_eq!(s.targets.len(), 5);
    let c = &target(&s, 0.5).regimes["one-shot"];
    // Values 0.902, 0.909, 0.889: mean 0.9, deviations 0.002, 0.009, −0.011 → ss = 206e-6,
    // sample var 103e-6, CI half-width = t_{.975,2} · √103e-6 / √3.
    assert_eq!(c.n, 3);
    assert!(close(c.mean, 0.9, 1e-12), "{}", c.mean);
    assert!(close(c.std.unwrap(), 103e-6f64.sqrt(), 1e-12));
    assert!(close(
        c.ci95.unwrap(),
        T975_2 * 103e-6f64.sqrt() / 3f64.sqrt(),
        1e-12
    ));
    assert!(close(c.ci95.unwrap(), 0.025_211, 1e-6));
    assert!(close(c.epochs, 30.0, 0.0));
    assert!(close(c.train_flops, 30e12, 1.0));
    assert!(close(c.sparsity, 0.5, 1e-12));
    assert!(close(c.val_mean, 0.905, 1e-12));
    assert_eq!(c.seeds.iter().map(|v| v.seed).collect::<Vec<_>>(), SEEDS);
    assert_eq!(c.configurations.len(), 1);
    assert!(c.configurations[0].selected);
    // Geometric: 4 steps × 15 epochs.
    assert!(close(
        target(&s, 0.5).regimes["geometric"].epochs,
        60.0,
        0.0
    ));

    let d = s.dense.as_ref().unwrap();
    assert_eq!(d.n, 3);
    assert!(close(d.mean, DENSE, 1e-12));
    assert!(close(d.std.unwrap(), 0.01, 1e-12));
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn clear_win_is_significant() {
    let s = analyze(&full(), &AnalysisOptions::default());
    let t = target(&s, 0.5);
    // one-shot − hybrid per seed: 0.01 + (0.002, −0.002, 0) → mean 0.01, s_d = 0.002,
    // t = 5√3, df 2, p = 1 − t/√(2 + t²) = 1 − 5√3/√77.
    assert_eq!(t.best_mean, "one-shot");
    assert_eq!(t.runner_up.as_deref(), Some("hybrid"));
    assert_eq!(t.winner.as_deref(), Some("one-shot"));
    assert!(t.significant);
    assert_eq!(t.test, "paired t-test over seeds");
    assert_eq!(t.n_pairs, 3);
    assert!(close(t.difference.unwrap(), 0.01, 1e-12));
    let p = 1.0 - 5.0 * 3f64.sqrt() / 77f64.sqrt();
    assert!(close(t.p_value.unwrap(), p, 1e-9), "{:?} vs {p}", t.p_value);
    // MDD = (t_{.975,2} + t_{.8,2}) · 0.002 / √3.
    let t80 = stats::t_quantile(0.8, 2.0).unwrap();
    assert!(close(
        t.min_detectable_difference.unwrap(),
        (T975_2 + t80) * 0.002 / 3f64.sqrt(),
        1e-9
    ));
    assert_eq!(t.tied_with_best, vec!["one-shot".to_string()]);
    assert!(t.statement.starts_with("one-shot wins"), "{}", t.statement);
    assert_eq!(t.comparisons.len(), 3);
    assert!(t.comparisons.iter().all(|c| c.significant));
}

#[test]
fn a_cost_ratio_that_rounds_to_one_is_stated_as_epoch_counts() {
    // hybrid has the best mean; one-shot ties with 58 epochs against 60 (ratio 1.03).
    let mut rows = Vec::new();
    for (si, noise) in [0.004, -0.004, 0.001].into_iter().enumerate() {
        rows.extend(run_rows_with("h", "hybrid", 0.8, si, 0.851, 0.0, vec![60]));
        rows.extend(run_rows_with(
            "o",
            "one-shot",
            0.8,
            si,
            0.85 + noise,
            0.0,
            vec![58],
        ));
    }
    let s = analyze(&rows, &AnalysisOptions::default());
    let t = target(&s, 0.8);
    assert_eq!(t.best_mean, "hybrid");
    assert_eq!(t.cheapest_tied, "one-shot");
    assert!(
        t.statement
            .contains("the cheaper regime one-shot needs slightly fewer epochs (58.0 vs 60.0)"),
        "{}",
        t.statement
    );
    assert!(!t.statement.contains("1.0×"), "{}", t.statement);
}

#[test]
fn tie_says_no_significant_difference_and_names_the_cheaper_regime() {
    let s = analyze(&full(), &AnalysisOptions::default());
    let t = target(&s, 0.8);
    // hybrid 0.852 is the best mean; one-shot and geometric tie at 0.85 (runner-up by name:
    // geometric). hybrid − geometric per seed: 0.002 + (0.002, −0.002, 0) → t = √3, p = 1 − √3/√5.
    assert_eq!(t.best_mean, "hybrid");
    assert_eq!(t.runner_up.as_deref(), Some("geometric"));
    assert_eq!(t.winner, None);
    assert!(!t.significant);
    assert!(
        close(t.p_value.unwrap(), 1.0 - 3f64.sqrt() / 5f64.sqrt(), 1e-9),
        "{:?}",
        t.p_value
    );
    assert!(close(t.difference.unwrap(), 0.002, 1e-12));
    // Constant is significantly worse; one-shot (30 epochs) is the cheapest of the tied ones.
    assert_eq!(t.tied_with_best, vec!["hybrid", "geometric", "one-shot"]);
    assert_eq!(t.cheapest_tied, "one-shot");
    assert!(close(t.epochs_ratio.unwrap(), 3.0, 1e-12));
    assert!(
        t.statement
            .starts_with("no significant difference between hybrid"),
        "{}",
        t.statement
    );
    assert!(
        t.statement
            .contains("the cheaper regime one-shot needs 3.0× fewer epochs"),
        "{}",
        t.statement
    );
    let json = serde_json::to_value(t).unwrap();
    assert!(json["winner"].is_null());
    assert_eq!(json["best_mean"], "hybrid");
}

#[test]
fn crossover_on_the_synthetic_curves() {
    let s = analyze(&full(), &AnalysisOptions::default());
    let c = &s.crossover;
    assert_eq!(
        (c.one_shot.as_str(), c.iterative.as_str()),
        ("one-shot", "geometric")
    );
    // geometric − one-shot: −0.04, −0.02, 0, +0.03, +0.08; differences per seed carry
    // (−0.004, +0.004, 0) → s_d = 0.004, CI half-width h = t_{.975,2} · 0.004/√3 everywhere.
    assert_eq!(c.points.len(), 5);
    for (p, d) in c.points.iter().zip([-0.04, -0.02, 0.0, 0.03, 0.08]) {
        assert!(close(p.difference, d, 1e-12), "{} vs {d}", p.difference);
    }
    let h = T975_2 * 0.004 / 3f64.sqrt();
    assert!(close(c.points[0].ci95.unwrap(), h, 1e-12));
    assert_eq!(c.crossings.len(), 1, "{:?}", c.crossings);
    let x = &c.crossings[0];
    assert_eq!(x.direction, stats::CrossDirection::Up);
    assert!(close(x.estimate, 0.8, 1e-9), "{}", x.estimate);
    // Band contains 0 from where hi = d + h reaches 0 on [0.7, 0.8] to where lo = d − h reaches 0
    // on [0.8, 0.9].
    let [lo, hi] = x.interval.unwrap();
    let lo_expected = 0.7 + 0.1 * (0.02 - h) / 0.02;
    let hi_expected = 0.8 + 0.1 * h / 0.03;
    assert!(close(lo, lo_expected, 1e-9), "{lo} vs {lo_expected}");
    assert!(close(hi, hi_expected, 1e-9), "{hi} vs {hi_expected}");
    assert!(!x.lower_open && !x.upper_open);
    assert!(
        c.statement
            .contains("geometric overtakes one-shot at ≈ 80.00%"),
        "{}",
        c.statement
    );

    // Without the iterative side at all: no crossover, honestly stated.
    let s = analyze(
        &synthetic(&["one-shot", "constant"]),
        &AnalysisOptions::default(),
    );
    assert!(s.crossover.crossings.is_empty());
    assert!(
        s.crossover.statement.contains("not assessable"),
        "{}",
        s.crossover.statement
    );
    // Constant as the iterative side: −0.06, −0.04, −0.02, +0.01, +0.02 → up at 0.8 + 0.1·2/3.
    let opts = AnalysisOptions {
        iterative_regime: "constant".into(),
        ..Default::default()
    };
    let rows = synthetic(&["one-shot", "constant"]);
    let s = analyze(&rows, &opts);
    assert_eq!(s.crossover.crossings.len(), 1);
    assert!(close(
        s.crossover.crossings[0].estimate,
        0.8 + 0.1 * 2.0 / 3.0,
        1e-9
    ));
    // Up to 0.8 only, constant is below one-shot at every target: no crossing.
    let low: Vec<StepRow> = rows.into_iter().filter(|r| r.target <= 0.8).collect();
    let s = analyze(&low, &opts);
    assert!(s.crossover.crossings.is_empty());
    assert!(
        s.crossover
            .statement
            .starts_with("no crossover between 50.00% and 80.00%: one-shot"),
        "{}",
        s.crossover.statement
    );
}

#[test]
fn selection_uses_validation_and_reports_test() {
    let mut rows = full();
    // A second geometric configuration at 0.9 with a better test (0.83) but a worse validation
    // (test − 0.05) than the first (0.81, val = test + 0.005).
    for (si, shift) in SEED_SHIFT.iter().enumerate() {
        let acc = 0.83 + shift + noise("geometric", si);
        rows.extend(run_rows(
            "geometric-t0.9-patience5",
            "geometric",
            0.9,
            si,
            acc,
            -0.05,
        ));
    }
    let s = analyze(&rows, &AnalysisOptions::default());
    let c = &target(&s, 0.9).regimes["geometric"];
    assert_eq!(c.configurations.len(), 2);
    assert_eq!(c.experiment, "geometric-t0.9");
    assert!(close(c.mean, 0.81, 1e-12));
    assert_eq!(c.configurations.iter().filter(|k| k.selected).count(), 1);

    let on_test = AnalysisOptions {
        select_on_validation: false,
        ..Default::default()
    };
    let s = analyze(&rows, &on_test);
    let c = &target(&s, 0.9).regimes["geometric"];
    assert_eq!(c.experiment, "geometric-t0.9-patience5");
    assert!(close(c.mean, 0.83, 1e-12));
    assert!(s.selection.contains("test"));
}

#[test]
fn recommendations_follow_the_measurements() {
    let rows = full();
    // A tie at 0.8 → the cheapest tied regime.
    let s = analyze(
        &rows,
        &AnalysisOptions {
            recommend_target: Some(0.8),
            ..Default::default()
        },
    );
    let r = &s.recommendation;
    assert_eq!(r.requested_target, Some(0.8));
    assert_eq!(r.measured_target, Some(0.8));
    assert_eq!(r.regime.as_deref(), Some("one-shot"));
    assert_eq!(r.basis, "tied_cheapest");
    assert_eq!(r.evidence.len(), 4);
    let geo = r.evidence.iter().find(|e| e.regime == "geometric").unwrap();
    assert!(close(geo.difference_vs_recommended.unwrap(), 0.0, 1e-12));
    assert!(geo.p_value_vs_recommended.is_some());

    // 0.95 is not measured: the nearest (0.98) is used and said; geometric wins there.
    let s = analyze(
        &rows,
        &AnalysisOptions {
            recommend_target: Some(0.95),
            ..Default::default()
        },
    );
    assert_eq!(s.recommendation.measured_target, Some(0.98));
    assert_eq!(s.recommendation.regime.as_deref(), Some("geometric"));
    assert_eq!(s.recommendation.basis, "significantly_best");
    assert!(
        s.recommendation.text.contains("nearest measured target"),
        "{}",
        s.recommendation.text
    );

    // A budget of 40 epochs leaves only one-shot at 0.98.
    let s = analyze(
        &rows,
        &AnalysisOptions {
            recommend_target: Some(0.98),
            epoch_budget: Some(40.0),
            ..Default::default()
        },
    );
    assert_eq!(s.recommendation.regime.as_deref(), Some("one-shot"));
    assert_eq!(s.recommendation.basis, "only_candidate");
    assert_eq!(
        s.recommendation
            .evidence
            .iter()
            .filter(|e| e.within_budget)
            .count(),
        1
    );

    // Nothing fits 10 epochs.
    let s = analyze(
        &rows,
        &AnalysisOptions {
            recommend_target: Some(0.5),
            epoch_budget: Some(10.0),
            ..Default::default()
        },
    );
    assert_eq!(s.recommendation.regime, None);
    assert_eq!(s.recommendation.basis, "none_within_budget");

    // No target: one recommendation per measured target.
    let s = analyze(&rows, &AnalysisOptions::default());
    assert_eq!(s.recommendation.basis, "no_target_requested");
    let by: Vec<Option<&str>> = s
        .recommendations_by_target
        .iter()
        .map(|r| r.regime.as_deref())
        .collect();
    assert_eq!(
        by,
        vec![
            Some("one-shot"),
            Some("one-shot"),
            Some("one-shot"),
            Some("geometric"),
            Some("geometric")
        ]
    );
}

#[test]
fn single_seed_gives_nulls_not_nan() {
    let rows: Vec<StepRow> = full().into_iter().filter(|r| r.seed == SEEDS[0]).collect();
    let s = analyze(&rows, &AnalysisOptions::default());
    let t = target(&s, 0.5);
    assert_eq!(t.regimes["one-shot"].n, 1);
    assert_eq!(t.regimes["one-shot"].ci95, None);
    assert_eq!(t.p_value, None);
    assert_eq!(t.winner, None);
    assert!(t.statement.contains("no test possible"), "{}", t.statement);
    let json = serde_json::to_string(&s).unwrap();
    assert!(!json.contains("NaN") && !json.contains("inf"));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["targets"][0]["regimes"]["one-shot"]["ci95"].is_null());
    assert!(v["targets"][0]["p_value"].is_null());
    // Crossings exist (one-shot better at low, geometric at high) but have no interval.
    assert!(s.crossover.crossings.iter().all(|c| c.interval.is_none()));
}

#[test]
fn input_order_does_not_matter() {
    let rows = full();
    let mut rev = rows.clone();
    rev.reverse();
    let opts = AnalysisOptions::default();
    assert_eq!(analyze(&rows, &opts), analyze(&rev, &opts));
}

fn out_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("shears-report-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn config() -> serde_json::Value {
    serde_json::json!({"model": "resnet18", "dataset": "cifar10", "seeds": SEEDS, "lr": 0.001})
}

const EXPECTED_FILES: [&str; 10] = [
    "summary.json",
    "results.csv",
    "fig-accuracy-vs-sparsity.svg",
    "fig-accuracy-vs-sparsity.png",
    "fig-accuracy-vs-epochs.svg",
    "fig-accuracy-vs-epochs.png",
    "fig-hybrid-trajectory.svg",
    "fig-hybrid-trajectory.png",
    "report.md",
    "report.html",
];

#[test]
fn report_files_are_written_and_sensible() {
    let mut rows = full();
    // Extra, unselected geometric configurations (shorter patience: 4 × 6 epochs, 1 pp worse,
    // worse validation) so the epochs figure draws a line per regime.
    for (ti, &t) in TARGETS.iter().enumerate() {
        for (si, shift) in SEED_SHIFT.iter().enumerate() {
            let acc = base("geometric", ti) - 0.01 + shift + noise("geometric", si);
            rows.extend(run_rows_with(
                &format!("geometric-t{t}-p2"),
                "geometric",
                t,
                si,
                acc,
                -0.02,
                vec![6; 4],
            ));
        }
    }
    let summary = analyze(
        &rows,
        &AnalysisOptions {
            recommend_target: Some(0.8),
            ..Default::default()
        },
    );
    let dir = out_dir("full");
    let files = write_report(&dir, &rows, &summary, &config()).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for f in EXPECTED_FILES {
        assert!(names.iter().any(|n| n == f), "{f} missing from {names:?}");
        assert!(
            std::fs::metadata(dir.join(f)).unwrap().len() > 0,
            "{f} empty"
        );
    }
    for stem in [
        "fig-accuracy-vs-sparsity",
        "fig-accuracy-vs-epochs",
        "fig-hybrid-trajectory",
    ] {
        let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        assert!(
            svg.contains("<svg") && svg.contains("test top-1"),
            "{stem}: no y label"
        );
        let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}: PNG magic");
        assert!(png.len() > 10_000, "{stem}: PNG only {} bytes", png.len());
    }
    let svg = std::fs::read_to_string(dir.join("fig-accuracy-vs-sparsity.svg")).unwrap();
    for label in [
        "realised sparsity",
        "test top-1 accuracy (%)",
        "dense baseline",
        "one-shot",
        "geometric",
        "constant",
        "hybrid",
    ] {
        assert!(svg.contains(label), "sparsity figure lacks {label:?}");
    }
    let svg = std::fs::read_to_string(dir.join("fig-accuracy-vs-epochs.svg")).unwrap();
    assert!(svg.contains("cumulative fine-tuning epochs") && svg.contains("target sparsity 80.0%"));

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["config"], config());
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["targets"][0]["test"], "paired t-test over seeds");
    assert!(json["targets"][2]["winner"].is_null());
    for key in [
        "mean",
        "std",
        "ci95",
        "n",
        "epochs",
        "train_flops",
        "sparsity",
    ] {
        assert!(
            json["targets"][0]["regimes"]["one-shot"].get(key).is_some(),
            "{key}"
        );
    }
    for key in [
        "winner",
        "runner_up",
        "difference",
        "p_value",
        "test",
        "significant",
        "min_detectable_difference",
    ] {
        assert!(json["targets"][0].get(key).is_some(), "{key}");
    }

    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 5 * 4);
    assert_eq!(lines[0], CSV_COLUMNS.join(","));
    assert!(
        lines
            .iter()
            .all(|l| l.split(',').count() == CSV_COLUMNS.len())
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("0.500000,one-shot,one-shot-t0.5,3,0.900000,")),
        "{csv}"
    );

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for needle in [
        "| target | regime |",
        "## Crossover",
        "## Recommendation",
        "## How to read this",
        "](fig-accuracy-vs-sparsity.png)",
        "](fig-hybrid-trajectory.png)",
        "no significant difference",
        "geometric overtakes one-shot",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 3);
    assert!(!html.contains("<?xml") && !html.contains("src=") && !html.contains("href=\"http"));
    assert!(html.contains("<table>") && html.contains("How to read this"));
}

#[test]
fn no_hybrid_rows_no_hybrid_figure() {
    let rows = synthetic(&["one-shot", "geometric", "constant"]);
    let summary = analyze(&rows, &AnalysisOptions::default());
    let dir = out_dir("no-hybrid");
    let files = write_report(&dir, &rows, &summary, &serde_json::Value::Null).unwrap();
    assert_eq!(files.len(), 8);
    assert!(
        files
            .iter()
            .all(|p| !p.file_name().unwrap().to_string_lossy().contains("hybrid"))
    );
    assert!(!dir.join("fig-hybrid-trajectory.svg").exists());
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(!md.contains("fig-hybrid-trajectory"));
}

#[test]
fn regeneration_is_byte_identical() {
    let rows = full();
    let opts = AnalysisOptions {
        recommend_target: Some(0.9),
        epoch_budget: Some(100.0),
        ..Default::default()
    };
    let (a, b) = (out_dir("det-a"), out_dir("det-b"));
    let fa = write_report(&a, &rows, &analyze(&rows, &opts), &config()).unwrap();
    let mut rev = rows.clone();
    rev.reverse();
    let fb = write_report(&b, &rev, &analyze(&rev, &opts), &config()).unwrap();
    assert_eq!(fa.len(), 10);
    assert_eq!(fa.len(), fb.len());
    for (pa, pb) in fa.iter().zip(&fb) {
        assert_eq!(pa.file_name(), pb.file_name());
        let (x, y) = (std::fs::read(pa).unwrap(), std::fs::read(pb).unwrap());
        assert!(x == y, "{} differs between runs", pa.display());
    }
}

#[test]
fn empty_input_still_writes_a_report() {
    let summary = analyze(
        &[],
        &AnalysisOptions {
            recommend_target: Some(0.8),
            ..Default::default()
        },
    );
    assert!(summary.targets.is_empty() && summary.dense.is_none());
    assert_eq!(summary.recommendation.basis, "no_data");
    assert!(summary.crossover.statement.contains("not assessable"));
    let dir = out_dir("empty");
    let files = write_report(&dir, &[], &summary, &serde_json::Value::Null).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["summary.json", "results.csv", "report.md", "report.html"]
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("results.csv"))
            .unwrap()
            .lines()
            .count(),
        1
    );
}

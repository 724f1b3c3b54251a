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
    let (seed, dense) = (SEEDS[seed_index], DENSE + SEED_SHIFT[seed_index]);
    seeded_rows(
        experiment,
        regime,
        target,
        (seed, seed_index),
        dense,
        final_test,
        val_offset,
        epochs,
    )
}

/// Rows of one run of seed `seed` (its `repeat` index beside it) from dense accuracy `dense`.
#[allow(clippy::too_many_arguments)]
fn seeded_rows(
    experiment: &str,
    regime: &str,
    target: f64,
    (seed, seed_index): (u64, usize),
    dense: f64,
    final_test: f64,
    val_offset: f64,
    epochs: Vec<usize>,
) -> Vec<StepRow> {
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
            pruned_test_top1: None,
            pruned_test_loss: None,
            threads: 1,
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

/// One regime of [`many_seeds`]: name, fine-tuning epochs, final accuracy of seed i.
type Arm<'a> = (&'a str, usize, &'a dyn Fn(usize) -> f64);

/// `n` seeds of each `(regime, epochs, final accuracy of seed i)` at `target`; seed i's dense
/// model has accuracy 0.9 + 0.01·sin(i), shared by the regimes as in a real comparison.
fn many_seeds(target: f64, n: usize, regimes: &[Arm]) -> Vec<StepRow> {
    let mut rows = Vec::new();
    for &(regime, epochs, acc) in regimes {
        for i in 0..n {
            let shift = 0.01 * (i as f64).sin();
            rows.extend(seeded_rows(
                &format!("{regime}-t{target}"),
                regime,
                target,
                (100 + i as u64, i),
                0.9 + shift,
                acc(i) + shift,
                0.0,
                vec![epochs],
            ));
        }
    }
    rows
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
    // Nothing was dropped or unpaired; the only warnings are the unresolved questions.
    assert!(
        s.warnings
            .iter()
            .all(|w| w.contains("not resolved") || w.contains("no crossover resolved")),
        "{:?}",
        s.warnings
    );
}

#[test]
fn three_seeds_across_a_whole_report_do_not_make_a_winner() {
    let s = analyze(&full(), &AnalysisOptions::default());
    let t = target(&s, 0.5);
    // one-shot − hybrid per seed: 0.01 + (0.002, −0.002, 0) → mean 0.01, s_d = 0.002,
    // t = 5√3, df 2, raw p = 1 − t/√(2 + t²) = 1 − 5√3/√77 ≈ 0.013.
    assert_eq!(t.best_mean, "one-shot");
    assert_eq!(t.runner_up.as_deref(), Some("hybrid"));
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
    // 6 pairs at each of 5 targets are one Holm family of 30: a raw p of 0.013 is not a win.
    let c = &t.comparisons[0];
    assert!(c.p_adjusted.unwrap() > 0.05 && c.p_adjusted.unwrap() >= p);
    assert!(!t.significant && t.winner.is_none());
    assert_eq!(t.recommended, "one-shot");
    assert_eq!(t.verdict, "inconclusive");
    assert!(
        t.seeds_needed.is_some_and(|n| n > 3),
        "{:?}",
        t.seeds_needed
    );
    assert!(
        t.statement
            .starts_with("not resolved: one-shot has the best mean"),
        "{}",
        t.statement
    );
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("target 50.00%: not resolved with 3 seeds")),
        "{:?}",
        s.warnings
    );
    assert!(
        s.multiplicity.contains("Holm over all 30 paired t-tests"),
        "{}",
        s.multiplicity
    );
}

#[test]
fn a_consistent_difference_over_enough_seeds_is_a_winner() {
    let jitter = |i: usize| 0.0005 * (i as f64 * 1.7).cos();
    let rows = many_seeds(
        0.9,
        8,
        &[
            ("one-shot", 30, &|i| 0.86 + jitter(i)),
            ("geometric", 60, &|_| 0.85),
        ],
    );
    let s = analyze(&rows, &AnalysisOptions::default());
    let t = target(&s, 0.9);
    assert_eq!(t.winner.as_deref(), Some("one-shot"));
    // Measured fine-tuning time travels with epochs and FLOPs: the rows' cum_wall_s, averaged.
    let c = &t.regimes["one-shot"];
    let walls: Vec<f64> = rows
        .iter()
        .filter(|r| r.regime == "one-shot" && r.step == 1)
        .map(|r| r.cum_wall_s)
        .collect();
    let expect = walls.iter().sum::<f64>() / walls.len() as f64;
    assert!(
        (c.wall_s.unwrap() - expect).abs() < 1e-9,
        "{:?} vs {expect}",
        c.wall_s
    );
    assert!(report_md(&s, &[]).contains("fine-tuning s"));
    assert_eq!(
        (t.verdict.as_str(), t.recommended.as_str()),
        ("winner", "one-shot")
    );
    assert!(t.significant && t.comparisons[0].verdict == "better");
    assert!(
        t.statement
            .starts_with("one-shot wins: +1.00 pp over geometric"),
        "{}",
        t.statement
    );
    assert_eq!(s.recommendations_by_target[0].basis, "winner");
}

#[test]
fn a_cheaper_regime_is_recommended_only_when_shown_equivalent() {
    // hybrid (60 epochs) has the best mean by 0.1 pp; one-shot (30 epochs) is within ±0.5 pp
    // with a tiny spread over 8 seeds: equivalent, so the cheaper one-shot is the answer.
    let jitter = |i: usize| 0.0003 * (i as f64 * 2.3).sin();
    let rows = many_seeds(
        0.8,
        8,
        &[
            ("hybrid", 60, &|_| 0.851),
            ("one-shot", 30, &|i| 0.850 + jitter(i)),
        ],
    );
    let s = analyze(&rows, &AnalysisOptions::default());
    let t = target(&s, 0.8);
    assert_eq!(t.best_mean, "hybrid");
    assert_eq!(
        (t.recommended.as_str(), t.verdict.as_str()),
        ("one-shot", "equivalent")
    );
    // The 0.1 pp is real (significant) but inside the margin: one-shot is still equivalent.
    assert_eq!(t.comparisons[0].verdict, "better");
    assert!(
        t.statement
            .contains("use one-shot: equivalent to the best mean hybrid"),
        "{}",
        t.statement
    );
    assert!(
        t.statement
            .contains("2.0× fewer fine-tuning epochs (30.0 vs 60.0)"),
        "{}",
        t.statement
    );
    assert_eq!(s.recommendations_by_target[0].basis, "equivalent_cheaper");
    // The results table labels the unused best mean as such, not as the only regime.
    let md = report_md(&s, &[]);
    let line = |regime: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| 80.00% | {regime} | ")) && l.contains(" ± "))
            .unwrap_or_else(|| panic!("no {regime} row in {md}"))
            .to_string()
    };
    assert!(
        line("hybrid").ends_with("| best mean |"),
        "{}",
        line("hybrid")
    );
    assert!(line("one-shot").contains("**use**"), "{}", line("one-shot"));
    // Where one-shot costs more training FLOPs than hybrid the text says the measures disagree.
    let mut costly = rows.clone();
    for r in costly.iter_mut().filter(|r| r.regime == "one-shot") {
        r.cum_train_flops *= 3.0;
    }
    let t = target(&analyze(&costly, &AnalysisOptions::default()), 0.8).clone();
    assert!(
        t.statement.contains("the cost measures disagree"),
        "{}",
        t.statement
    );

    // The same means over 3 noisy seeds: not shown equivalent, so the better mean stays the
    // answer (never a worse regime merely "not significantly different"), unresolved.
    let noise = [0.004, -0.004, 0.001];
    let rows = many_seeds(
        0.8,
        3,
        &[
            ("hybrid", 60, &|_| 0.851),
            ("one-shot", 30, &|i| 0.850 + noise[i]),
        ],
    );
    let s = analyze(&rows, &AnalysisOptions::default());
    let t = target(&s, 0.8);
    assert_eq!(
        (t.recommended.as_str(), t.verdict.as_str()),
        ("hybrid", "inconclusive")
    );
    assert_eq!(t.comparisons[0].verdict, "inconclusive");
    assert!(
        t.seeds_needed.is_some_and(|n| n > 3),
        "{:?}",
        t.seeds_needed
    );
    assert_eq!(t.comparisons[0].seeds_needed, t.seeds_needed);
    assert_eq!(
        s.recommendations_by_target[0].regime.as_deref(),
        Some("hybrid")
    );
    assert_eq!(s.recommendations_by_target[0].basis, "inconclusive");
    // A wider margin makes the same data an equivalence.
    let wide = AnalysisOptions {
        margin: 0.05,
        ..Default::default()
    };
    let t = target(&analyze(&rows, &wide), 0.8).clone();
    assert_eq!(
        (t.recommended.as_str(), t.verdict.as_str()),
        ("one-shot", "equivalent")
    );
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
    // With 3 seeds in a family of 30 tests nothing is significant: the sign change of the
    // means is listed, but no crossover is located.
    assert!(!c.resolved && c.crossings.is_empty());
    assert!(
        c.statement
            .starts_with("no crossover resolved between 50.00% and 98.00%"),
        "{}",
        c.statement
    );
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("no crossover resolved")),
        "{:?}",
        s.warnings
    );
    assert_eq!(c.sign_changes.len(), 1, "{:?}", c.sign_changes);
    let x = &c.sign_changes[0];
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

    // The same curves over 10 consistent seeds: located between 70% and 90% (0 at 80%).
    let mut rows = Vec::new();
    for (t, d) in [
        (0.5, -0.04),
        (0.7, -0.02),
        (0.8, 0.0),
        (0.9, 0.03),
        (0.98, 0.08),
    ] {
        let jitter = |i: usize| 0.001 * (i as f64 * 1.3).sin();
        rows.extend(many_seeds(
            t,
            10,
            &[
                ("one-shot", 30, &|_| 0.8),
                ("geometric", 60, &|i| 0.8 + d + jitter(i)),
            ],
        ));
    }
    let s = analyze(&rows, &AnalysisOptions::default());
    let c = &s.crossover;
    assert!(c.resolved, "{}", c.statement);
    assert_eq!(c.crossings.len(), 1);
    assert_eq!(c.crossings[0].between, [0.7, 0.9]);
    assert!(
        c.statement
            .contains("geometric overtakes one-shot between 70.00% and 90.00%"),
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
    assert_eq!(s.crossover.sign_changes.len(), 1);
    assert!(close(
        s.crossover.sign_changes[0].estimate,
        0.8 + 0.1 * 2.0 / 3.0,
        1e-9
    ));
    // Up to 0.8 only, constant is significantly below one-shot at every target (3 pairs).
    let low: Vec<StepRow> = rows.into_iter().filter(|r| r.target <= 0.8).collect();
    let s = analyze(&low, &opts);
    assert!(s.crossover.resolved && s.crossover.crossings.is_empty());
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
    // Unresolved at 0.8 → the best mean, said to be unresolved.
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
    assert_eq!(r.regime.as_deref(), Some("hybrid"));
    assert_eq!(r.basis, "inconclusive");
    assert!(r.text.contains("not resolved"), "{}", r.text);
    assert_eq!(r.evidence.len(), 4);
    let geo = r.evidence.iter().find(|e| e.regime == "geometric").unwrap();
    assert!(close(geo.difference_vs_recommended.unwrap(), 0.002, 1e-12));
    assert!(geo.p_value_vs_recommended.is_some());

    // 0.95 is not measured: the nearest (0.98) is used and said; geometric has the best mean.
    let s = analyze(
        &rows,
        &AnalysisOptions {
            recommend_target: Some(0.95),
            ..Default::default()
        },
    );
    assert_eq!(s.recommendation.measured_target, Some(0.98));
    assert_eq!(s.recommendation.regime.as_deref(), Some("geometric"));
    assert_eq!(s.recommendation.basis, "inconclusive");
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
            Some("hybrid"),
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
    assert!(t.statement.starts_with("not resolved"), "{}", t.statement);
    assert_eq!(t.seeds_needed, None);
    let json = serde_json::to_string(&s).unwrap();
    assert!(!json.contains("NaN") && !json.contains("inf"));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["targets"][0]["regimes"]["one-shot"]["ci95"].is_null());
    assert!(v["targets"][0]["p_value"].is_null());
    // Sign changes exist (one-shot better at low, geometric at high) but have no interval,
    // and nothing is located.
    assert!(!s.crossover.sign_changes.is_empty());
    assert!(
        s.crossover
            .sign_changes
            .iter()
            .all(|c| c.interval.is_none())
    );
    assert!(!s.crossover.resolved && s.crossover.crossings.is_empty());
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

const EXPECTED_FILES: [&str; 12] = [
    "summary.json",
    "results.csv",
    "fig-accuracy-vs-sparsity.svg",
    "fig-accuracy-vs-sparsity.png",
    "fig-difference.svg",
    "fig-difference.png",
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
    assert_eq!(json["schema_version"], 2);
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
        "](fig-difference.png)",
        "not resolved with 3 seeds",
        "no crossover resolved",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}");
    }
    // The answer comes first: the bottom line before any table.
    assert!(md.find("## Bottom line").unwrap() < md.find("| target |").unwrap());
    assert!(md.find("](fig-accuracy-vs-sparsity.png)").unwrap() < md.find("## Results").unwrap());
    assert!(
        md.contains("## Bottom line"),
        "report.md lacks the bottom line"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(!html.contains("<?xml") && !html.contains("src=") && !html.contains("href=\"http"));
    assert!(html.contains("<table>") && html.contains("How to read this"));
}

#[test]
fn no_hybrid_rows_no_hybrid_figure() {
    let rows = synthetic(&["one-shot", "geometric", "constant"]);
    let summary = analyze(&rows, &AnalysisOptions::default());
    let dir = out_dir("no-hybrid");
    let files = write_report(&dir, &rows, &summary, &serde_json::Value::Null).unwrap();
    assert_eq!(files.len(), 10);
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
    assert_eq!(fa.len(), 12);
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

fn sequential() -> AnalysisOptions {
    AnalysisOptions {
        sequential: Some(SequentialOptions {
            start: 3,
            max: 12,
            spending: shears_core::stats::Spending::OBrienFleming,
        }),
        ..AnalysisOptions::default()
    }
}

#[test]
fn seeds_auto_judges_each_look_at_the_designs_level_and_says_so() {
    // A consistent 1 pp difference: a fixed 3-seed design calls it, the sequential one waits
    // (its first look spends almost nothing), and calls it a few seeds later.
    let jitter = |i: usize| 0.0005 * (i as f64 * 1.7).cos();
    let arms: [Arm; 2] = [
        ("one-shot", 30, &|i| 0.86 + jitter(i)),
        ("geometric", 60, &|_| 0.85),
    ];
    let fixed = analyze(&many_seeds(0.9, 3, &arms), &AnalysisOptions::default());
    assert_eq!(target(&fixed, 0.9).verdict, "winner");
    assert!(fixed.open_targets().is_empty());
    assert!(
        fixed.multiplicity.starts_with("Holm"),
        "{}",
        fixed.multiplicity
    );

    let early = analyze(&many_seeds(0.9, 3, &arms), &sequential());
    let t = target(&early, 0.9);
    assert_eq!(t.verdict, "inconclusive", "{}", t.statement);
    assert_eq!(early.open_targets(), vec![0.9]);
    // The adjusted p reads against α: p · α / (nominal level at 3 of 12 seeds) ≥ α here.
    let c = &t.comparisons[0];
    assert!(
        c.p_value.unwrap() < 0.05 && c.p_adjusted.unwrap() >= 0.05,
        "{c:?}"
    );

    let later = analyze(&many_seeds(0.9, 8, &arms), &sequential());
    assert_eq!(target(&later, 0.9).verdict, "winner");
    assert!(later.open_targets().is_empty());
    assert!(
        later.multiplicity.contains("group-sequential")
            && later.multiplicity.contains("3..12")
            && later.multiplicity.contains("α/1"),
        "{}",
        later.multiplicity
    );
    let md = shears_report::report_md(&later, &[]);
    assert!(
        md.contains("Seeds were added sequentially") && md.contains("90.00% 8"),
        "{md}"
    );
    assert!(!shears_report::report_md(&fixed, &[]).contains("added sequentially"));
}

//! The "not fine-tuned" point: a one-step run's measure right after pruning, before any
//! fine-tuning, summarised beside its fine-tuned result and shown, never judged.

use shears_core::results::StepRow;
use shears_report::*;

/// Rows of one run with `steps` pruning steps to `target`: the final step ends at `tuned`, and
/// every pruning step records `pruned` (test top-1, test loss) before fine-tuning.
fn run(
    regime: &str,
    seed: u64,
    steps: usize,
    tuned: f64,
    pruned: Option<(f64, f64)>,
) -> Vec<StepRow> {
    let target = 0.5;
    (0..=steps)
        .map(|step| {
            let s = target * step as f64 / steps as f64;
            let test = if step == 0 { 0.9 } else { tuned };
            let before = pruned.filter(|_| step > 0);
            StepRow {
                experiment: format!("{regime}-x"),
                regime: regime.into(),
                target,
                repeat: seed as usize,
                seed,
                step,
                fraction_removed: if step == 0 {
                    0.0
                } else {
                    target / steps as f64
                },
                planned_sparsity: s,
                sparsity: s,
                model_sparsity: s,
                remaining_params: 1000,
                flops_dense: 1000,
                flops_effective: 1000,
                epochs: step.min(1) * 3,
                cum_epochs: step * 3,
                best_epoch: step.min(1),
                cum_train_flops: 0.0,
                wall_s: 0.0,
                cum_wall_s: 0.0,
                val_top1: test,
                val_top5: 1.0,
                val_loss: 1.0,
                test_top1: test,
                test_top5: 1.0,
                test_loss: (1.0 / test).ln(),
                pruned_test_top1: before.map(|b| b.0),
                pruned_test_loss: before.map(|b| b.1),
                threads: 1,
            }
        })
        .collect()
}

fn rows(missing_seed: Option<u64>) -> Vec<StepRow> {
    let mut rows = Vec::new();
    for seed in 0..3 {
        let before = (seed != missing_seed.unwrap_or(u64::MAX))
            .then_some((0.6 + 0.01 * seed as f64, 5f64.ln() + 0.1 * seed as f64));
        rows.extend(run("one-shot", seed, 1, 0.85 + 0.001 * seed as f64, before));
        // An iterative run records pre-fine-tuning metrics too, but after earlier fine-tuning:
        // not the "not fine-tuned" point.
        rows.extend(run("geometric", seed, 3, 0.86, Some((0.1, 9.0))));
    }
    rows
}

fn cell<'s>(s: &'s Summary, regime: &str) -> &'s CellSummary {
    &s.targets[0].regimes[regime]
}

#[test]
fn one_step_cells_carry_their_measure_before_fine_tuning() {
    let s = analyze(&rows(None), &AnalysisOptions::default());
    let p = cell(&s, "one-shot")
        .pruned_only
        .as_ref()
        .expect("one-shot has it");
    assert_eq!(p.n, 3);
    assert!((p.mean - 0.61).abs() < 1e-12, "{}", p.mean);
    assert!(p.ci95.is_some());
    let seeds: Vec<Option<f64>> = cell(&s, "one-shot")
        .seeds
        .iter()
        .map(|v| v.pruned_only)
        .collect();
    assert_eq!(seeds, vec![Some(0.6), Some(0.61), Some(0.62)]);
    assert_eq!(cell(&s, "geometric").pruned_only, None);
    assert!(
        cell(&s, "geometric")
            .seeds
            .iter()
            .all(|v| v.pruned_only.is_none())
    );
    // Never judged: the verdicts compare the fine-tuned results only.
    let t = &s.targets[0];
    assert!(
        t.comparisons
            .iter()
            .all(|c| c.regime == "one-shot" || c.regime == "geometric")
    );
}

#[test]
fn perplexity_reads_the_pruned_loss() {
    let s = analyze(
        &rows(None),
        &AnalysisOptions::with_measure(Measure::Perplexity),
    );
    let p = cell(&s, "one-shot").pruned_only.as_ref().unwrap();
    let expected = (5.0 + 5.0 * 0.1f64.exp() + 5.0 * 0.2f64.exp()) / 3.0;
    assert!((p.mean - expected).abs() < 1e-9, "{} vs {expected}", p.mean);
}

#[test]
fn a_seed_without_it_leaves_the_cell_without_it() {
    let s = analyze(&rows(Some(1)), &AnalysisOptions::default());
    assert_eq!(cell(&s, "one-shot").pruned_only, None);
    let present = cell(&s, "one-shot")
        .seeds
        .iter()
        .filter(|v| v.pruned_only.is_some());
    assert_eq!(present.count(), 2);
}

#[test]
fn the_report_shows_a_reference_row_only_when_there_is_one() {
    let s = analyze(&rows(None), &AnalysisOptions::default());
    let md = report_md(&s, &[]);
    let row = md
        .lines()
        .find(|l| l.contains("one-shot, not fine-tuned"))
        .expect("a not-fine-tuned row");
    assert!(row.contains("61.00%"), "{row}");
    assert!(row.contains("reference (not judged)"), "{row}");
    assert!(md.contains("before any fine-tuning"));
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains("\"pruned_only\""));

    let without: Vec<StepRow> = rows(None)
        .into_iter()
        .map(|r| StepRow {
            pruned_test_top1: None,
            pruned_test_loss: None,
            threads: 1,
            ..r
        })
        .collect();
    let s = analyze(&without, &AnalysisOptions::default());
    let md = report_md(&s, &[]);
    assert!(!md.contains("not fine-tuned"));
    assert!(!serde_json::to_string(&s).unwrap().contains("pruned_only"));
}

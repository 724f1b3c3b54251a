//! Structured comparisons: cells carry their remaining parameters and FLOPs, and regimes that
//! reach one target at different sizes are warned about (issue 19); unstructured summaries do
//! not change.

use shears_core::results::StepRow;
use shears_report::*;

/// Final rows of one run (step 0 and the last step) ending at `params` parameters.
fn run(regime: &str, target: f64, seed: u64, test: f64, params: u64) -> Vec<StepRow> {
    (0..2)
        .map(|step| StepRow {
            experiment: format!("{regime}-{target}"),
            regime: regime.into(),
            target,
            repeat: seed as usize,
            seed,
            step,
            fraction_removed: target * step as f64,
            planned_sparsity: target * step as f64,
            sparsity: target * step as f64,
            model_sparsity: target * step as f64,
            remaining_params: if step == 0 { 60_000 } else { params },
            flops_dense: 800_000,
            flops_effective: if step == 0 { 800_000 } else { params * 12 },
            epochs: step,
            cum_epochs: step,
            best_epoch: step,
            cum_train_flops: 1e9 * step as f64,
            wall_s: 1.0,
            cum_wall_s: 1.0,
            val_top1: test,
            val_top5: 0.99,
            val_loss: 1.0 - test,
            test_top1: test,
            test_top5: 0.99,
            test_loss: 1.0 - test,
            pruned_test_top1: None,
            pruned_test_loss: None,
            threads: 1,
        })
        .collect()
}

/// One-shot and geometric at two targets over two seeds; at 0.8 geometric is 30% bigger.
fn rows() -> Vec<StepRow> {
    let mut rows = Vec::new();
    for seed in [0, 1] {
        let acc = 0.85 + 0.01 * seed as f64;
        rows.extend(run("one-shot", 0.5, seed, acc, 30_000));
        rows.extend(run("geometric", 0.5, seed, acc + 0.01, 30_100));
        rows.extend(run("one-shot", 0.8, seed, acc - 0.05, 10_000));
        rows.extend(run("geometric", 0.8, seed, acc - 0.04, 13_000));
    }
    rows
}

#[test]
fn structured_cells_report_their_size_and_unequal_sizes_are_warned_about() {
    let opts = AnalysisOptions {
        size_measure: Some("params".into()),
        ..Default::default()
    };
    let s = analyze(&rows(), &opts);
    let cell = &s.targets[1].regimes["geometric"];
    let size = cell.size.as_ref().expect("structured cells have a size");
    assert_eq!(size.params, 13_000.0);
    assert_eq!(size.flops, 156_000.0);
    let size_warnings: Vec<&String> = s
        .warnings
        .iter()
        .filter(|w| w.contains("different sizes"))
        .collect();
    // 0.5: 0.3% apart, fine; 0.8: 23% apart.
    assert_eq!(size_warnings.len(), 1, "{:?}", s.warnings);
    assert!(
        size_warnings[0].starts_with("target 80.00% (params)"),
        "{size_warnings:?}"
    );
    // Counted in FLOPs instead: at 0.8 the cells differ in FLOPs too.
    let flops = AnalysisOptions {
        size_measure: Some("flops".into()),
        ..Default::default()
    };
    let w = analyze(&rows(), &flops).warnings;
    assert!(w.iter().any(|w| w.contains("apart in FLOPs")), "{w:?}");
    let md = report_md(&s, &[]);
    assert!(md.contains("remaining params"), "{md}");
    assert!(md.contains("| 13000 |"), "{md}");
    assert!(md.contains("different sizes"), "{md}");
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["options"]["size_measure"], "params");
}

#[test]
fn unstructured_summaries_have_no_sizes_and_no_size_warnings() {
    let s = analyze(&rows(), &AnalysisOptions::default());
    assert!(
        s.targets
            .iter()
            .all(|t| t.regimes.values().all(|c| c.size.is_none()))
    );
    assert!(!s.warnings.iter().any(|w| w.contains("different sizes")));
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["options"].get("size_measure").is_none(), "{json}");
    assert!(
        json["targets"][0]["regimes"]["one-shot"]
            .get("size")
            .is_none()
    );
    assert!(!report_md(&s, &[]).contains("remaining params"));
}

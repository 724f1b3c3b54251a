//! Structured comparisons at equal size (issue 19): `shears compare --structured --model lenet5
//! --targets 0.5,0.8 --seeds 0 --regimes one-shot,geometric`, with one epoch per step so it
//! stays fast, ends both regimes at the same number of parameters and reports them.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shears-structured-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The issue's command as a sweep file, with the short fine-tuning of the CLI tests.
const SWEEP: &str = r#"
targets = [0.5, 0.8]
seeds = [0]
[base.model]
kind = "lenet5"
[base.dense]
epochs = 1
[base.prune]
structured = true
[base.finetune]
mode = "epochs"
epochs = 1
[regimes]
one-shot = ["schedule.kind=one-shot"]
geometric = ["schedule.kind=geometric", "schedule.steps=5"]
"#;

#[test]
fn structured_regimes_end_at_equal_parameters_and_the_report_says_so() {
    let out = tmp("compare");
    let _ = std::fs::remove_dir_all(&out);
    let config = tmp("sweep.toml");
    std::fs::write(&config, SWEEP).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_shears"))
        .args(["compare", "--config", config.to_str().unwrap()])
        .args(["--out", out.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let v: Value = serde_json::from_slice(&run.stdout).unwrap();
    let targets = v["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{v}");
    for t in targets {
        let size = |r: &str| {
            let s = &t["regimes"][r]["size"];
            (s["params"].as_f64().unwrap(), s["flops"].as_f64().unwrap())
        };
        let ((p1, f1), (p2, f2)) = (size("one-shot"), size("geometric"));
        assert!(
            (p1 - p2).abs() <= 0.01 * p1.max(p2),
            "target {}: one-shot {p1} params, geometric {p2}",
            t["target"]
        );
        assert!(f1 > 0.0 && f2 > 0.0, "{t}");
    }
    assert_eq!(v["options"]["size_measure"], "params", "{v}");
    let warnings = v["warnings"].as_array().unwrap();
    assert!(
        !warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("different sizes")),
        "{warnings:?}"
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("remaining params"), "{md}");
    assert!(md.contains("FLOPs / sample"), "{md}");
}

#[test]
fn target_measure_on_an_unstructured_run_is_refused_by_name() {
    let run = Command::new(env!("CARGO_BIN_EXE_shears"))
        .args([
            "prune",
            "-s",
            "prune.target_measure=flops",
            "--print-config",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(stderr.contains("prune.target_measure"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

//! Wanda, SparseGPT and N:M patterns through the binary: prune-once on a trained model
//! (SparseGPT keeps more accuracy than magnitude pruning without retraining), a 2:4 pattern
//! that holds after fine-tuning, and settings errors that name the problem before any work.

use serde_json::Value;
use shears_core::masks::{Mask, Pattern, RowLayout, check_pattern};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn shears(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shears"))
        .args(args)
        .output()
        .expect("run shears")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shears-criteria-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn ok_json(args: &[&str]) -> Value {
    let o = shears(args);
    assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    serde_json::from_str(text(&o.stdout).trim()).unwrap()
}

/// A LeNet-300-100 trained for 3 epochs on the embedded data, once per test process.
fn dense() -> &'static Path {
    static DENSE: OnceLock<PathBuf> = OnceLock::new();
    DENSE.get_or_init(|| {
        let out = tmp("dense.ckpt");
        let o = out.to_str().unwrap();
        ok_json(&[
            "train", "--model", "lenet300", "--epochs", "3", "--out", o, "--json",
        ]);
        out
    })
}

fn prune_once(name: &str, extra: &[&str]) -> (PathBuf, Output) {
    let out = tmp(name);
    let (d, o) = (dense().to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec!["prune-once", "--checkpoint", d, "--out", o, "--json"];
    args.extend(extra);
    (out.clone(), shears(&args))
}

fn test_top1(ckpt: &Path) -> f64 {
    let v = ok_json(&["eval", "--checkpoint", ckpt.to_str().unwrap(), "--json"]);
    v["test_top1"].as_f64().unwrap_or_else(|| panic!("{v}"))
}

#[test]
fn sparsegpt_keeps_more_accuracy_than_magnitude_without_retraining() {
    let mut acc = Vec::new();
    for criterion in ["magnitude", "wanda", "sparsegpt"] {
        let (ckpt, o) = prune_once(
            &format!("{criterion}.ckpt"),
            &[
                "--criterion",
                criterion,
                "--scope",
                "layer-wise",
                "--sparsity",
                "0.8",
            ],
        );
        assert!(o.status.success(), "{criterion}: {}", text(&o.stderr));
        let table: Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
        let s = table["sparsity"].as_f64().unwrap();
        assert!((s - 0.8).abs() < 1e-3, "{criterion}: sparsity {s}");
        acc.push((criterion, test_top1(&ckpt)));
    }
    let (magnitude, sparsegpt) = (acc[0].1, acc[2].1);
    assert!(sparsegpt > magnitude, "{acc:?}");
}

#[test]
fn a_two_four_pattern_from_prune_once_holds_in_every_weight() {
    let (ckpt, o) = prune_once(
        "nm.ckpt",
        &[
            "--criterion",
            "wanda",
            "--pattern",
            "2:4",
            "--sparsity",
            "0.5",
            "--weights-only",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_pattern(&ckpt, "2:4".parse().unwrap());
}

/// Every weight of the checkpoint has at most N non-zeros in each group of M inputs.
fn assert_pattern(ckpt: &Path, p: Pattern) {
    let (model, meta) =
        shears_nn::checkpoint::load(ckpt, None, &shears_nn::Device::flex()).unwrap();
    let params = shears_nn::prune::prunable(&meta.model, false);
    let values = shears_nn::prune::read(&model, &params).unwrap();
    for (t, v) in params.iter().zip(values) {
        let mask = Mask::from_keep(v.iter().map(|x| *x != 0.0).collect());
        check_pattern(&mask, RowLayout::for_shape(&t.shape), p)
            .unwrap_or_else(|e| panic!("{}: {e}", t.path));
    }
}

#[test]
fn an_iterative_two_four_run_holds_the_pattern_after_fine_tuning() {
    let config = tmp("nm.toml");
    std::fs::write(
        &config,
        r#"
seeds = [0]
[model]
kind = "lenet300"
[dense]
epochs = 2
[prune]
criterion = "sparsegpt"
scope = "layer-wise"
include_bias = false
pattern = "2:4"
calibration_samples = 64
[schedule]
kind = "geometric"
target = 0.5
steps = 2
[finetune]
mode = "epochs"
epochs = 1
"#,
    )
    .unwrap();
    let store = tmp("nm-store");
    let (c, s) = (config.to_str().unwrap(), store.to_str().unwrap());
    let o = shears(&["prune", "--config", c, "--store", s]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let last = walk(&store)
        .into_iter()
        .find(|p| p.ends_with("seed-0/step-2.ckpt"))
        .expect("the last step's checkpoint");
    assert_pattern(&last, "2:4".parse().unwrap());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn criterion_and_pattern_mistakes_are_named_before_any_work() {
    for (extra, needle) in [
        (
            &["--pattern", "2:4", "--sparsity", "0.7"][..],
            "use --sparsity 0.5",
        ),
        (
            &[
                "--criterion",
                "wanda",
                "--scope",
                "global",
                "--sparsity",
                "0.5",
            ],
            "needs a count per layer",
        ),
        (
            &["--pattern", "2:5", "--sparsity", "0.6"],
            "fc1.weight: rows of 784 inputs",
        ),
        (
            &[
                "--criterion",
                "sparsegpt",
                "--pattern",
                "2:5",
                "--sparsity",
                "0.6",
            ],
            "fc1.weight: rows of 784 inputs cannot be split into groups of 5 for the pattern 2:5; exclude the layer",
        ),
        (
            &["--pattern", "5:4", "--sparsity", "0.5"],
            "is not an N:M pattern",
        ),
        (
            &["--criterion", "obs", "--sparsity", "0.5"],
            "unknown criterion 'obs'",
        ),
    ] {
        let (out, o) = prune_once("bad.ckpt", extra);
        let e = text(&o.stderr);
        assert!(!o.status.success() && e.contains(needle), "{extra:?}: {e}");
        assert!(!out.exists(), "{extra:?} wrote {}", out.display());
    }
}

#[test]
fn the_not_finetuned_point_is_the_one_shot_model_before_its_fine_tuning() {
    let config = tmp("one-shot.toml");
    std::fs::write(
        &config,
        r#"
seeds = [0]
[model]
kind = "lenet300"
[dense]
epochs = 1
[schedule]
kind = "one-shot"
target = 0.8
[finetune]
mode = "epochs"
epochs = 1
"#,
    )
    .unwrap();
    let store = tmp("one-shot-store");
    let (c, s) = (config.to_str().unwrap(), store.to_str().unwrap());
    let o = shears(&["prune", "--config", c, "--store", s]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let files = walk(&store);
    let rows_file = files
        .iter()
        .find(|p| p.ends_with("seed-0/steps.jsonl"))
        .unwrap();
    let rows: Vec<Value> = std::fs::read_to_string(rows_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows[0]["pruned_test_top1"].is_null(), "{}", rows[0]);
    let before = rows[1]["pruned_test_top1"].as_f64().expect("recorded");
    assert!(rows[1]["pruned_test_loss"].as_f64().unwrap().is_finite());
    // The same pruning of the stored dense model by prune-once, evaluated: the same number.
    let dense = files.iter().find(|p| p.ends_with("model.ckpt")).unwrap();
    let out = tmp("one-shot-pruned.ckpt");
    let (d, p) = (dense.to_str().unwrap(), out.to_str().unwrap());
    ok_json(&[
        "prune-once",
        "--checkpoint",
        d,
        "--sparsity",
        "0.8",
        "--out",
        p,
        "--json",
    ]);
    assert_eq!(before, test_top1(&out), "{}", rows[1]);
    assert_ne!(
        before,
        rows[1]["test_top1"].as_f64().unwrap(),
        "fine-tuning changed nothing?"
    );
}

#[test]
fn wanda_beyond_rows_compares_across_layers_under_the_global_scope() {
    let layer_sparsities = |o: &Output| -> Vec<f64> {
        let table: Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
        let s = table["sparsity"].as_f64().unwrap();
        assert!((s - 0.8).abs() < 1e-3, "sparsity {s}");
        let layers = table["layers"]
            .as_array()
            .unwrap_or_else(|| panic!("{table}"));
        layers
            .iter()
            .map(|l| l["sparsity"].as_f64().unwrap())
            .collect()
    };
    let weights = [
        "--criterion",
        "wanda",
        "--sparsity",
        "0.8",
        "--weights-only",
    ];
    let (_, rows) = prune_once("wanda-rows.ckpt", &weights);
    assert!(rows.status.success(), "{}", text(&rows.stderr));
    assert!(
        layer_sparsities(&rows)
            .iter()
            .all(|s| (s - 0.8).abs() < 1e-2)
    );
    let global = [
        &weights[..],
        &["--wanda-rows", "false", "--scope", "global"],
    ]
    .concat();
    let (_, o) = prune_once("wanda-global.ckpt", &global);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = layer_sparsities(&o);
    let spread =
        s.iter().cloned().fold(f64::MIN, f64::max) - s.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        spread > 0.05,
        "one global threshold should prune layers unevenly: {s:?}"
    );
    let (_, e) = prune_once(
        "sgpt-global.ckpt",
        &[
            "--criterion",
            "sparsegpt",
            "--sparsity",
            "0.8",
            "--wanda-rows",
            "false",
        ],
    );
    assert!(!e.status.success());
    assert!(
        text(&e.stderr).contains("--wanda-rows"),
        "{}",
        text(&e.stderr)
    );
}

#[test]
fn wanda_rows_off_is_refused_for_other_criteria_in_a_config() {
    let config = tmp("rows-off.toml");
    std::fs::write(
        &config,
        "seeds = [0]\n[prune]\ncriterion = \"sparsegpt\"\nscope = \"layer-wise\"\nwanda_rows = false\n",
    )
    .unwrap();
    let store = tmp("rows-off-store");
    let (c, s) = (config.to_str().unwrap(), store.to_str().unwrap());
    let o = shears(&["prune", "--config", c, "--store", s]);
    let e = text(&o.stderr);
    assert!(!o.status.success() && e.contains("prune.wanda_rows"), "{e}");
    assert!(!store.join("dense").exists(), "trained before refusing");
}

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

//! Language models through the binary: gpt-tiny trains on a text it has never seen and reports
//! perplexity, a trained model evaluates a text with characters outside its vocabulary, and a
//! model paired with the wrong kind of data is refused before any work.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

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
    let dir = std::env::temp_dir().join(format!("shears-language-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// About 8 KB of text no test corpus holds: numbered lines of a counting rhyme.
fn write_corpus(name: &str, extra: &str) -> PathBuf {
    let mut s = String::new();
    for i in 0..240 {
        s += &format!(
            "line {i}: the {} cat sat on the {} mat{extra}\n",
            i % 7,
            i % 5
        );
    }
    let p = tmp(name);
    std::fs::write(&p, s).unwrap();
    p
}

fn json_of(o: &Output) -> Value {
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_str(text(&o.stdout).trim()).unwrap()
}

#[test]
fn gpt_tiny_trains_on_unseen_text_and_evaluates_text_with_unknown_characters() {
    let corpus = write_corpus("rhyme.txt", "");
    let ckpt = tmp("gpt.ckpt");
    let o = shears(&[
        "train",
        "--model",
        "gpt-tiny",
        "--data",
        "text",
        "--data-dir",
        corpus.to_str().unwrap(),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--out",
        ckpt.to_str().unwrap(),
        "--json",
    ]);
    let v = json_of(&o);
    let (ppl, loss) = (
        v["test_ppl"].as_f64().unwrap(),
        v["test_loss"].as_f64().unwrap(),
    );
    assert!((ppl - loss.exp()).abs() < 1e-9 * ppl, "{v}");
    // Far better than guessing among the ~30 symbols of the text after two epochs.
    assert!(ppl.is_finite() && ppl > 1.0 && ppl < 20.0, "{v}");

    // The same text with symbols the model never saw: encoded with the model's vocabulary
    // (unknown id), evaluated, not a crash.
    let other = write_corpus("other.txt", " — ünïcödé ☂");
    let o = shears(&[
        "eval",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--data",
        "text",
        "--data-dir",
        other.to_str().unwrap(),
        "--json",
    ]);
    let e = json_of(&o);
    let eppl = e["test_ppl"].as_f64().unwrap();
    assert!(
        eppl.is_finite() && eppl > ppl,
        "unknown symbols cost perplexity: {e} vs {v}"
    );
}

#[test]
fn a_model_paired_with_the_wrong_kind_of_data_is_refused() {
    let o = shears(&["train", "--model", "gpt-tiny", "--epochs", "1"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("gpt-tiny is a language model"), "{err}");
    assert!(err.contains("kjv-mini"), "{err}");

    let o = shears(&[
        "train", "--model", "lenet300", "--data", "kjv-mini", "--epochs", "1",
    ]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("lenet300 reads images"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_text_corpus_without_a_path_or_with_a_bad_file_names_the_problem() {
    let o = shears(&["train", "--model", "gpt-tiny", "--data", "text"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("--data-dir"), "{err}");

    let bin = tmp("binary.txt");
    std::fs::write(&bin, [0u8, 159, 146, 150, 0, 1, 2]).unwrap();
    let o = shears(&[
        "train",
        "--model",
        "gpt-tiny",
        "--data",
        "text",
        "--data-dir",
        bin.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("binary.txt"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// The steps.csv rows of the one experiment in `store`, as (header → value) maps.
fn step_rows(store: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
    let exp = std::fs::read_dir(store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("seed-0").is_dir())
        .expect("an experiment directory");
    let csv = std::fs::read_to_string(exp.join("seed-0/steps.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

fn num(row: &std::collections::HashMap<String, String>, key: &str) -> f64 {
    row[key].parse().unwrap()
}

/// gpt-tiny through the experiment runner on a small unseen text, unstructured (exact
/// sparsity after fine-tuning at every step) and structured (heads and neurons cut out).
#[test]
fn gpt_tiny_prunes_iteratively_with_exact_sparsity_and_structurally() {
    let corpus = write_corpus("prune.txt", "");
    for structured in [false, true] {
        let store = tmp(&format!("store-{structured}"));
        let _ = std::fs::remove_dir_all(&store);
        let data_dir = format!("data.dir={}", corpus.display());
        let structured_key = format!("prune.structured={structured}");
        let o = shears(&[
            "prune",
            "--store",
            store.to_str().unwrap(),
            "-s",
            "model.kind=gpt-tiny",
            "-s",
            "model.width=64",
            "-s",
            "model.depth=2",
            "-s",
            "model.context=32",
            "-s",
            "data.dataset=text",
            "-s",
            &data_dir,
            "-s",
            "dense.epochs=1",
            "-s",
            "dense.batch_size=8",
            "-s",
            "finetune.batch_size=8",
            "-s",
            "schedule.kind=geometric",
            "-s",
            "schedule.target=0.5",
            "-s",
            "schedule.steps=2",
            "-s",
            "finetune.mode=epochs",
            "-s",
            "finetune.epochs=1",
            "-s",
            &structured_key,
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let rows = step_rows(&store);
        assert_eq!(rows.len(), 3, "dense + 2 steps");
        // The configured shape was built: 2 blocks of width 64 (12·64² each) plus the head,
        // not the default's 800k layer parameters.
        let dense = num(&rows[0], "remaining_params");
        assert!((98_000.0..110_000.0).contains(&dense), "{dense}");
        for r in &rows {
            assert!(num(r, "test_loss").is_finite(), "{r:?}");
        }
        let last = rows.last().unwrap();
        if structured {
            let dense = num(&rows[0], "remaining_params");
            let left = num(last, "remaining_params");
            assert!(left < 0.7 * dense, "{dense} -> {left}");
        } else {
            for r in &rows[1..] {
                let (real, planned) = (num(r, "sparsity"), num(r, "planned_sparsity"));
                assert!((real - planned).abs() < 1e-3, "{r:?}");
            }
            assert!((num(last, "sparsity") - 0.5).abs() < 1e-3, "{last:?}");
        }
    }
}

#[test]
fn transformer_shape_keys_are_checked() {
    let bad = |args: &[&str], want: &str| {
        let mut all = vec!["prune", "--print-config"];
        all.extend_from_slice(args);
        let o = shears(&all);
        assert!(!o.status.success(), "{args:?}");
        let err = text(&o.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    };
    bad(&["-s", "model.width=64"], "lenet300 is not a transformer");
    bad(
        &[
            "-s",
            "model.kind=vit-tiny",
            "-s",
            "model.width=100",
            "-s",
            "model.heads=3",
        ],
        "not divisible",
    );
    bad(
        &["-s", "model.kind=vit-tiny", "-s", "model.context=64"],
        "model.context",
    );
    bad(
        &[
            "-s",
            "model.kind=gpt-tiny",
            "-s",
            "data.dataset=fashion-mnist-mini",
        ],
        "gpt-tiny is a language model",
    );
}

#[test]
fn transformer_configs_default_to_adamw_and_the_language_model_to_its_corpus() {
    let o = shears(&["prune", "--print-config", "-s", "model.kind=gpt-tiny"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let toml = text(&o.stdout);
    assert!(toml.contains("dataset = \"kjv-mini\""), "{toml}");
    assert!(toml.contains("kind = \"adam-w\""), "{toml}");
    assert!(toml.contains("monitor = \"loss\""), "{toml}");
    let o = shears(&["prune", "--print-config"]);
    let toml = text(&o.stdout);
    assert!(
        !toml.contains("adam-w"),
        "the CNN defaults are unchanged: {toml}"
    );
}

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

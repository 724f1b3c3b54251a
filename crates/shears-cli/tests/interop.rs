//! `shears import` and `shears export`: a PyTorch state dict in, measured and saved as a
//! checkpoint; the checkpoint out as PyTorch-layout safetensors, which imports back to the
//! same model; a file for another model refused by key, writing nothing.

use std::path::PathBuf;
use std::process::{Command, Output};

fn shears(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shears"))
        .args(args)
        .output()
        .expect("run shears")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shears-interop-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shears-nn/tests/fixtures/torch");
    root.join(name).display().to_string()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("one JSON object")
}

#[test]
fn a_pytorch_model_goes_in_and_comes_back_out_unchanged() {
    let dir = scratch("roundtrip");
    let ckpt = dir.join("imported.ckpt").display().to_string();
    let st = dir.join("exported.safetensors").display().to_string();
    let again = dir.join("again.ckpt").display().to_string();
    let first = json(&shears(&[
        "import",
        "--from",
        &fixture("lenet5.pt"),
        "--model",
        "lenet5",
        "--out",
        &ckpt,
        "--json",
    ]));
    let o = shears(&["export", "--checkpoint", &ckpt, "--out", &st]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let second = json(&shears(&[
        "import", "--from", &st, "--model", "lenet5", "--out", &again, "--json",
    ]));
    for k in ["test_top1", "test_loss"] {
        assert!(first[k].is_number(), "{first}");
        assert_eq!(first[k], second[k], "{k}");
    }
    // What `eval` measures on the imported checkpoint is what `import` reported.
    let eval = json(&shears(&["eval", "--checkpoint", &ckpt, "--json"]));
    assert_eq!(eval["test_loss"], first["test_loss"]);
}

#[test]
fn weights_for_another_model_are_refused_by_key_and_nothing_is_written() {
    let dir = scratch("refused");
    let out = dir.join("x.ckpt");
    let o = shears(&[
        "import",
        "--from",
        &fixture("resnet20.pt"),
        "--model",
        "lenet5",
        "--out",
        &out.display().to_string(),
    ]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("resnet20.pt") && stderr.contains("conv1.weight: missing from the file"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists());
    let o = shears(&[
        "import",
        "--from",
        "model.onnx",
        "--model",
        "lenet5",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("expected .safetensors, .pt or .pth"));
}

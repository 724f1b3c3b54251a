//! Nothing silently wrong, end to end: non-finite weights, degenerate data, absurd epoch
//! counts, mismatched shapes, files that are not regular files and unusable outputs are each a
//! clear error (naming the input, non-zero exit, no panic) — never a result and never a hang.

use shears_data::idx::{encode_images, encode_labels};
use shears_nn::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use shears_nn::models::{ModelKind, ModelSpec};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `shears`, killing it after `limit` (a hang is a failure, not a stuck test run).
fn shears_within(limit: Duration, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shears"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run shears");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            child.kill().expect("kill");
            let out = child.wait_with_output().expect("output");
            panic!(
                "shears {args:?} still running after {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn shears(args: &[&str]) -> Output {
    shears_within(Duration::from_secs(120), args)
}

/// Asserts a clean refusal: non-zero exit, no panic, and stderr containing every `needle`.
fn refused(out: &Output, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "expected an error; stdout: {}\nstderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "stderr lacks {n:?}: {stderr}");
    }
    stderr
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("integrity-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes an MNIST-format directory with `per_class` training and `test_per_class` test
/// images of each of 10 classes (deterministic pseudo-random pixels).
fn tiny_mnist(dir: &Path, per_class: usize, test_per_class: usize) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut write = |images: &str, labels: &str, per: usize| {
        let n = per * 10;
        let pixels: Vec<u8> = (0..n * 784)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                (state >> 56) as u8
            })
            .collect();
        let labels_v: Vec<u16> = (0..n).map(|i| (i % 10) as u16).collect();
        std::fs::write(dir.join(images), encode_images(n, 28, 28, &pixels).unwrap()).unwrap();
        std::fs::write(dir.join(labels), encode_labels(&labels_v).unwrap()).unwrap();
    };
    write(
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        per_class,
    );
    write(
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        test_per_class,
    );
}

/// A freshly initialised (untrained) checkpoint of `spec`, saved through the library.
fn saved_model(path: &Path, spec: ModelSpec, dataset: &str) {
    let model = spec.init(&shears_nn::Device::flex());
    let meta = CheckpointMeta {
        format_version: FORMAT_VERSION,
        model: spec,
        dataset: dataset.into(),
        seed: 0,
        epoch: 1,
        test: None,
        sparsity: 0.0,
        vocab: None,
        widths: None,
    };
    checkpoint::save(path, &model, &meta).unwrap();
}

fn lenet300(input: [usize; 3]) -> ModelSpec {
    ModelSpec {
        kind: ModelKind::LeNet300,
        input,
        classes: 10,
        shape: None,
    }
}

/// Overwrites element `index` of the f32 tensor `name` in a safetensors file (the format keeps
/// raw little-endian values at the offsets its JSON header gives, so the file stays valid).
fn poison(path: &Path, name: &str, index: usize, value: f32) {
    let mut bytes = std::fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    let start = header[name]["data_offsets"][0].as_u64().unwrap() as usize;
    let at = 8 + len + start + 4 * index;
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn checkpoints_with_non_finite_weights_are_refused_by_every_reader() {
    let dir = scratch("nan");
    let ckpt = dir.join("nan.ckpt");
    saved_model(&ckpt, lenet300([1, 28, 28]), "fashion-mnist-mini");
    poison(&ckpt, "fc1.bias", 17, f32::NAN);
    let expect = [s(&ckpt), "fc1.bias: 1 non-finite value (NaN) at element 17"];
    refused(&shears(&["eval", "--checkpoint", s(&ckpt)]), &expect);
    refused(&shears(&["inspect", "--checkpoint", s(&ckpt)]), &expect);
    let out = dir.join("pruned.ckpt");
    let args = ["prune-once", "--checkpoint", s(&ckpt), "--sparsity", "0.5"];
    refused(&shears(&[&args[..], &["--out", s(&out)]].concat()), &expect);
    assert!(!out.exists());

    // Infinities too, counted, the first one located.
    saved_model(&ckpt, lenet300([1, 28, 28]), "fashion-mnist-mini");
    for i in [5, 9] {
        poison(&ckpt, "fc2.weight", i, f32::INFINITY);
    }
    let e = shears(&["eval", "--checkpoint", s(&ckpt)]);
    refused(&e, &["fc2.weight: 2 non-finite values (inf) at element 5"]);
}

#[test]
fn empty_splits_are_refused_naming_the_split() {
    let dir = scratch("empty");
    let (no_train, no_test) = (dir.join("no-train"), dir.join("no-test"));
    std::fs::create_dir_all(&no_train).unwrap();
    std::fs::create_dir_all(&no_test).unwrap();
    tiny_mnist(&no_train, 0, 2);
    tiny_mnist(&no_test, 5, 0);
    let ckpt = dir.join("m.ckpt");
    let train = |data: &Path| {
        let args = ["train", "--data", "mnist", "--data-dir", s(data)];
        shears(&[&args[..], &["--epochs", "1", "--out", s(&ckpt)]].concat())
    };
    refused(&train(&no_train), &["0 training images"]);
    refused(&train(&no_test), &["0 test images"]);
    assert!(!ckpt.exists(), "nothing trained, nothing written");

    saved_model(&ckpt, lenet300([1, 28, 28]), "mnist");
    let args = ["eval", "--checkpoint", s(&ckpt), "--data-dir", s(&no_test)];
    refused(&shears(&args), &["0 test images"]);

    // A prune on empty data stores nothing (it stored steps of zeros).
    let store = dir.join("store");
    let set = format!("data.dir={}", s(&no_train));
    let args = [
        "prune",
        "-s",
        "data.dataset=mnist",
        "-s",
        &set,
        "-s",
        "dense.epochs=1",
    ];
    refused(
        &shears(&[&args[..], &["--store", s(&store)]].concat()),
        &["0 training images"],
    );
    let rows = walk(&store)
        .into_iter()
        .filter(|p| p.ends_with("steps.csv"));
    assert_eq!(rows.count(), 0, "no rows stored");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let p = e.path();
            if p.is_dir() { walk(&p) } else { vec![p] }
        })
        .collect()
}

#[test]
fn splits_too_small_for_the_validation_fraction_or_batch_are_refused() {
    let dir = scratch("small");
    tiny_mnist(&dir, 1, 1);
    let ckpt = dir.join("m.ckpt");
    let args = [
        "train",
        "--data",
        "mnist",
        "--data-dir",
        s(&dir),
        "--epochs",
        "1",
    ];
    // One image per class: a 10% validation share rounds to no image at all.
    let out = shears(&[&args[..], &["--out", s(&ckpt)]].concat());
    refused(&out, &["validation", "0 of 10"]);
    // Enough for validation, not for one batch of the requested size.
    let dir = scratch("small-batch");
    tiny_mnist(&dir, 5, 1);
    let args = [
        "train",
        "--data",
        "mnist",
        "--data-dir",
        s(&dir),
        "--epochs",
        "1",
    ];
    let out = shears(&[&args[..], &["--batch-size", "64", "--out", s(&ckpt)]].concat());
    refused(&out, &["40 images", "batch size 64"]);
    assert!(!ckpt.exists());
}

#[test]
fn absurd_epoch_counts_are_range_errors_not_allocations_or_panics() {
    let dir = scratch("epochs");
    let ckpt = dir.join("m.ckpt");
    for n in ["10000000000", "18446744073709551615", "0"] {
        let out = shears(&["train", "--epochs", n, "--out", s(&ckpt)]);
        refused(&out, &["--epochs"]);
    }
    for key in [
        "dense.epochs",
        "finetune.epochs",
        "finetune.max_epochs",
        "finetune.budget",
    ] {
        let set = format!("{key}=10000000000");
        let out = shears(&["prune", "-s", &set, "--store", s(&dir), "--print-config"]);
        refused(&out, &[key]);
    }
}

#[test]
fn gradient_criteria_check_the_input_shape_before_scoring() {
    let dir = scratch("shape");
    let ckpt = dir.join("small-input.ckpt");
    // A 14x14-input model labelled with a 28x28 dataset.
    saved_model(&ckpt, lenet300([1, 14, 14]), "fashion-mnist-mini");
    for criterion in ["taylor", "hessian"] {
        let out = dir.join(format!("{criterion}.ckpt"));
        let args = ["prune-once", "--checkpoint", s(&ckpt), "--sparsity", "0.5"];
        let extra = ["--criterion", criterion, "--out", s(&out)];
        let o = shears(&[&args[..], &extra].concat());
        refused(&o, &[s(&ckpt), "[1, 14, 14]", "[1, 28, 28]"]);
    }
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

#[test]
fn special_files_are_named_for_what_they_are_and_never_block() {
    let dir = scratch("special");
    let fifo = dir.join("pipe.ckpt");
    mkfifo(&fifo);
    let quick = Duration::from_secs(30);
    for cmd in ["eval", "inspect"] {
        let out = shears_within(quick, &[cmd, "--checkpoint", s(&fifo)]);
        refused(
            &out,
            &[s(&fifo), "is a named pipe (FIFO), not a regular file"],
        );
        let out = shears_within(quick, &[cmd, "--checkpoint", s(&dir)]);
        refused(&out, &[s(&dir), "is a directory"]);
        let out = shears_within(quick, &[cmd, "--checkpoint", "/dev/null"]);
        refused(&out, &["/dev/null", "is a character device"]);
    }

    // Dataset files: a FIFO, then a directory, in place of an IDX file.
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    tiny_mnist(&data, 5, 1);
    let images = data.join("train-images-idx3-ubyte");
    std::fs::remove_file(&images).unwrap();
    mkfifo(&images);
    let args = [
        "train",
        "--data",
        "mnist",
        "--data-dir",
        s(&data),
        "--epochs",
        "1",
    ];
    let train = |out: &Path| shears_within(quick, &[&args[..], &["--out", s(out)]].concat());
    refused(
        &train(&dir.join("a.ckpt")),
        &[s(&images), "is a named pipe"],
    );
    std::fs::remove_file(&images).unwrap();
    std::fs::create_dir_all(&images).unwrap();
    refused(&train(&dir.join("a.ckpt")), &[s(&images), "is a directory"]);
}

#[test]
fn an_unusable_train_output_is_refused_before_training() {
    let dir = scratch("out");
    let file = dir.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let under_file = file.join("m.ckpt");
    for (out, why) in [(&dir, "is a directory"), (&under_file, "m.ckpt")] {
        let o = shears(&["train", "--epochs", "3", "--out", s(out)]);
        let stderr = refused(&o, &[why]);
        assert!(!stderr.contains("epoch   1"), "trained first: {stderr}");
    }
}

#[test]
fn a_non_finite_evaluation_fails_the_run_instead_of_scoring_it() {
    // One batch per epoch: the fine-tuning step's only update overflows the weights while its
    // loss was still finite, so the first sign is the validation logits. They once counted
    // as correct (NaN is never "larger"), giving top-1 1.0.
    let dir = scratch("nonfinite");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    tiny_mnist(&data, 5, 1);
    let store = dir.join("store");
    let set = format!("data.dir={}", s(&data));
    let overrides = [
        "data.dataset=mnist",
        &set,
        "dense.epochs=1",
        "dense.batch_size=40",
        "finetune.mode=epochs",
        "finetune.epochs=1",
        "finetune.batch_size=40",
        "finetune.lr=1e30",
        "schedule.kind=one-shot",
    ];
    let mut args = vec!["prune", "--store", s(&store)];
    for o in &overrides {
        args.extend(["-s", o]);
    }
    let out = shears(&args);
    let stderr = refused(&out, &["non-finite logits on the validation split"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a failed run, not an abort: {stderr}"
    );
    let failed: Vec<_> = walk(&store)
        .into_iter()
        .filter(|p| p.ends_with("failed.json"))
        .collect();
    assert_eq!(failed.len(), 1, "{stderr}");
    let reason = std::fs::read_to_string(&failed[0]).unwrap();
    assert!(reason.contains("non-finite logits"), "{reason}");
}

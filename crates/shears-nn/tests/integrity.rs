//! Nothing silently wrong at the model level: non-finite logits are never scored, non-finite
//! weights are refused at load naming the tensor and the file, degenerate data and absurd
//! epoch counts are errors, and files that are not regular files are named for what they are.

use burn_store::{ModuleSnapshot, SafetensorsStore};
use shears_data::{Dataset, DatasetId, Splits};
use shears_nn::Device;
use shears_nn::checkpoint::{self, CheckpointError, CheckpointMeta, FORMAT_VERSION};
use shears_nn::models::{ModelKind, ModelSpec, Network};
use shears_nn::train::{Devices, Prepared, Split, TrainError, TrainRecipe, evaluate, fit};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn spec() -> ModelSpec {
    ModelSpec {
        kind: ModelKind::LeNet300,
        input: [1, 28, 28],
        classes: 10,
        shape: None,
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("nn-integrity-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `per_class` deterministic pseudo-random 28x28 images of each of 10 classes.
fn images(per_class: usize) -> Dataset {
    let n = per_class * 10;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let pixels = (0..n * 784)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            (state >> 56) as u8
        })
        .collect();
    let labels = (0..n).map(|i| (i % 10) as u16).collect();
    Dataset::new(pixels, labels, 1, 28, 28, 10).unwrap()
}

fn prepared(train: usize, test: usize, val_fraction: f64) -> Result<Prepared, TrainError> {
    let splits = Splits {
        train: images(train),
        test: images(test),
        normalization: None,
        skipped: Vec::new(),
    };
    Prepared::new(DatasetId::Mnist, splits, val_fraction, 0, false)
}

/// One overwritten weight: tensor, element, new value.
type Edit = (&'static str, usize, f32);

fn meta() -> CheckpointMeta {
    CheckpointMeta {
        format_version: FORMAT_VERSION,
        model: spec(),
        dataset: "mnist".into(),
        seed: 0,
        epoch: 1,
        test: None,
        sparsity: 0.0,
        vocab: None,
        widths: None,
    }
}

/// Overwrites element `index` of the f32 tensor `name` in safetensors bytes (values are raw
/// little-endian at the offsets the JSON header gives, so the file stays well-formed).
fn poison(bytes: &mut [u8], name: &str, index: usize, value: f32) {
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    let start = header[name]["data_offsets"][0].as_u64().unwrap() as usize;
    let at = 8 + len + start + 4 * index;
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// A LeNet-300-100 with one NaN in `fc3.bias`, loaded straight into Burn (bypassing the
/// checkpoint's own check) as a model that has gone bad in memory would be.
fn model_with_nan_bias(device: &Device) -> Network {
    let mut bytes = checkpoint::to_bytes(&spec().init(device), &meta()).unwrap();
    poison(&mut bytes, "fc3.bias", 3, f32::NAN);
    let mut model = spec().init(device);
    let mut store = SafetensorsStore::from_bytes(Some(bytes)).skip_enum_variants(true);
    model.load_from(&mut store).unwrap();
    model
}

#[test]
fn non_finite_logits_are_an_error_never_a_score() {
    let devices = Devices::new(Device::flex());
    let data = prepared(5, 2, 0.2).unwrap();
    let model = model_with_nan_bias(&devices.base);
    let err = evaluate(
        &model,
        &data.test,
        "test",
        &data.eval_batches(),
        &devices.base,
    )
    .expect_err("NaN logits were scored");
    assert!(
        matches!(&err, TrainError::NonFinite { split, sample: 0, n: 20 } if split == "test"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("non-finite logits on the test split (sample 0 of 20)"),
        "{err}"
    );
    // The healthy model on the same data scores normally.
    let healthy = spec().init(&devices.base);
    let m = evaluate(
        &healthy,
        &data.test,
        "test",
        &data.eval_batches(),
        &devices.base,
    )
    .unwrap();
    assert_eq!(m.n, 20);
}

#[test]
fn a_checkpoint_with_non_finite_weights_is_refused_naming_the_tensor_and_the_file() {
    let dir = scratch("nan-ckpt");
    let device = Device::flex();
    let path = dir.join("m.ckpt");
    let bytes = checkpoint::to_bytes(&spec().init(&device), &meta()).unwrap();
    let cases: [(&[Edit], &str); 3] = [
        (
            &[("fc1.bias", 17, f32::NAN)],
            "fc1.bias: 1 non-finite value (NaN) at element 17",
        ),
        (
            &[
                ("fc2.weight", 9, f32::NEG_INFINITY),
                ("fc2.weight", 4, f32::INFINITY),
            ],
            "fc2.weight: 2 non-finite values (inf) at element 4",
        ),
        (
            // Tensors are checked in name order: fc1 before fc3.
            &[
                ("fc3.bias", 0, f32::NAN),
                ("fc1.weight", 7, f32::INFINITY),
                ("fc1.weight", 8, f32::NAN),
            ],
            "fc1.weight: 2 non-finite values (NaN/inf) at element 7",
        ),
    ];
    for (edits, expected) in cases {
        let mut b = bytes.clone();
        for &(name, i, v) in edits {
            poison(&mut b, name, i, v);
        }
        std::fs::write(&path, &b).unwrap();
        let err = checkpoint::load(&path, None, &device).expect_err("loaded NaN weights");
        assert!(matches!(err, CheckpointError::NonFinite { .. }), "{err:?}");
        assert_eq!(err.to_string(), format!("{}: {expected}", path.display()));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn empty_splits_and_splits_too_small_for_validation_or_a_batch_are_refused() {
    let message = |r: Result<Prepared, TrainError>| match r {
        Err(e @ TrainError::DegenerateData(_)) => e.to_string(),
        other => panic!("expected degenerate data, got {other:?}"),
    };
    assert_eq!(
        message(prepared(0, 2, 0.1)),
        "mnist: 0 training images: there is nothing to train on"
    );
    assert_eq!(
        message(prepared(2, 0, 0.1)),
        "mnist: 0 test images: there is nothing to evaluate"
    );
    // One image per class: 10% rounds to none, 90% to all of them.
    assert!(message(prepared(1, 1, 0.1)).contains("would hold 0 of 10 training images"));
    assert!(message(prepared(1, 1, 0.9)).contains("leaves 0 of 10 training images"));

    let data = prepared(5, 1, 0.2).unwrap(); // 40 train, 10 validation
    data.check_batch(40, "finetune.batch_size").unwrap();
    let err = data.check_batch(41, "finetune.batch_size").unwrap_err();
    assert!(
        err.to_string().contains(
            "the training split has 40 images, fewer than the batch size 41 (finetune.batch_size)"
        ),
        "{err}"
    );

    let devices = Devices::new(Device::flex());
    let empty = Split::Images(images(0));
    let err = evaluate(
        &spec().init(&devices.base),
        &empty,
        "validation",
        &data.eval_batches(),
        &devices.base,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the validation split has 0 images: there is nothing to evaluate"
    );
}

#[test]
fn epoch_counts_are_range_checked_before_anything_is_allocated() {
    let devices = Devices::new(Device::flex());
    let data = prepared(5, 1, 0.2).unwrap();
    for epochs in [0, 100_001, 10_000_000_000, usize::MAX] {
        let recipe = TrainRecipe {
            epochs,
            batch_size: 8,
            ..TrainRecipe::default()
        };
        let err = fit(&spec(), &data, &recipe, &devices, &mut |_| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("train.epochs = {epochs} must be in 1..=100000")
        );
    }
}

#[test]
fn a_model_for_other_inputs_is_refused_before_it_runs() {
    let data = prepared(5, 1, 0.2).unwrap();
    data.check_model(&spec()).unwrap();
    let small = ModelSpec {
        input: [1, 14, 14],
        ..spec()
    };
    assert_eq!(
        data.check_model(&small).unwrap_err(),
        "model expects [1, 14, 14] inputs and 10 classes, dataset 'mnist' has [1, 28, 28] and 10"
    );
}

#[test]
fn checkpoint_paths_that_are_not_regular_files_are_named_for_what_they_are() {
    let dir = scratch("special");
    let device = Device::flex();
    let err = checkpoint::load(&dir, None, &device).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: is a directory", dir.display())
    );
    let err = checkpoint::load(Path::new("/dev/null"), None, &device).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/dev/null: is a character device"),
        "{err}"
    );
    // A FIFO: opening it for reading would block until a writer comes; it must not be opened.
    let fifo = dir.join("pipe.ckpt");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let f = fifo.clone();
    std::thread::spawn(move || {
        let r = checkpoint::load(&f, None, &Device::flex()).map(|_| ());
        tx.send(r.map_err(|e| e.to_string())).unwrap();
    });
    let err = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("checkpoint::load blocked on a FIFO")
        .unwrap_err();
    assert_eq!(
        err,
        format!(
            "{}: is a named pipe (FIFO), not a regular file",
            fifo.display()
        )
    );
}

#[test]
fn an_unwritable_checkpoint_path_is_refused_before_any_work() {
    let dir = scratch("writable");
    let err = checkpoint::check_writable(&dir).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}: is a directory", dir.display())),
        "{err}"
    );
    let file = dir.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    assert!(checkpoint::check_writable(&file.join("m.ckpt")).is_err());
    let fresh = dir.join("sub").join("m.ckpt");
    checkpoint::check_writable(&fresh).unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.join("sub")).unwrap().collect();
    assert!(left.is_empty(), "the probe is removed: {left:?}");
    // An existing checkpoint file is fine: saving replaces it atomically.
    checkpoint::check_writable(&file).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

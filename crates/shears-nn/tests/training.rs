//! End-to-end training on the embedded Fashion-MNIST subset, checkpoints and failure modes.

use shears_data::DatasetId;
use shears_nn::Device;
use shears_nn::checkpoint::{self, CheckpointError, CheckpointMeta, FORMAT_VERSION};
use shears_nn::models::{ModelKind, ModelSpec};
use shears_nn::train::{Devices, TrainError, evaluate};
use shears_nn::train::{Prepared, TrainRecipe, fit};
use std::path::PathBuf;

fn mini() -> Prepared {
    let splits = shears_data::load(DatasetId::FashionMnistMini, None).unwrap();
    Prepared::new(DatasetId::FashionMnistMini, splits, 0.1, 0, false).unwrap()
}

fn spec(kind: ModelKind) -> ModelSpec {
    ModelSpec {
        kind,
        input: [1, 28, 28],
        classes: 10,
        shape: None,
    }
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shears-nn-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn lenet300_learns_fashion_mnist_in_three_epochs() {
    let data = mini();
    let recipe = TrainRecipe {
        epochs: 3,
        ..TrainRecipe::default()
    };
    let devices = Devices::new(Device::flex());
    let mut seen = Vec::new();
    let (_, report) = fit(
        &spec(ModelKind::LeNet300),
        &data,
        &recipe,
        &devices,
        &mut |r| seen.push(r.epoch),
    )
    .unwrap();
    assert_eq!(seen, vec![1, 2, 3]);
    assert_eq!(report.test.n, 10_000);
    assert!(report.test.top1 >= 0.80, "test top-1 {}", report.test.top1);
}

#[test]
fn same_seed_same_metrics_different_seed_different_metrics() {
    let data = mini();
    let devices = Devices::new(Device::flex());
    let run = |seed| {
        let recipe = TrainRecipe {
            epochs: 1,
            seed,
            ..TrainRecipe::default()
        };
        fit(
            &spec(ModelKind::LeNet300),
            &data,
            &recipe,
            &devices,
            &mut |_| {},
        )
        .unwrap()
        .1
    };
    let (a, b, c) = (run(7), run(7), run(8));
    assert_eq!(a.test, b.test);
    assert_eq!(a.history[0].train_loss, b.history[0].train_loss);
    assert_ne!(a.test, c.test);
}

#[test]
fn divergence_is_an_error_not_a_silent_bad_model() {
    let data = mini();
    let recipe = TrainRecipe {
        epochs: 1,
        lr: 1e9,
        ..TrainRecipe::default()
    };
    let devices = Devices::new(Device::flex());
    let err = fit(
        &spec(ModelKind::LeNet300),
        &data,
        &recipe,
        &devices,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, TrainError::Diverged { .. }), "{err}");
    assert!(err.to_string().contains("diverged"));
}

#[test]
fn checkpoint_round_trip_and_refusals() {
    let data = mini();
    let devices = Devices::new(Device::flex());
    let recipe = TrainRecipe {
        epochs: 1,
        ..TrainRecipe::default()
    };
    let s = spec(ModelKind::LeNet5);
    let (model, report) = fit(&s, &data, &recipe, &devices, &mut |_| {}).unwrap();
    let meta = CheckpointMeta {
        format_version: FORMAT_VERSION,
        model: s,
        dataset: "fashion-mnist-mini".into(),
        seed: 0,
        epoch: 1,
        test: Some(report.test),
        sparsity: 0.0,
        vocab: None,
        widths: None,
    };
    let path = tmp("lenet5.ckpt");
    checkpoint::save(&path, &model, &meta).unwrap();

    let (loaded, got) = checkpoint::load(&path, Some(&s), &devices.base).unwrap();
    assert_eq!(got, meta);
    let again = evaluate(
        &loaded,
        &data.test,
        "test",
        &data.eval_batches(),
        &devices.base,
    )
    .unwrap();
    assert_eq!(
        again, report.test,
        "reloaded weights must reproduce the recorded test metrics"
    );

    // Another architecture or class count is refused before any weight is touched.
    let other = spec(ModelKind::LeNet300);
    assert!(matches!(
        checkpoint::load(&path, Some(&other), &devices.base),
        Err(CheckpointError::Mismatch { .. })
    ));
    let other = ModelSpec { classes: 100, ..s };
    assert!(matches!(
        checkpoint::load(&path, Some(&other), &devices.base),
        Err(CheckpointError::Mismatch { .. })
    ));

    // Truncated files and garbage are errors naming the file.
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 7, 100, bytes.len() / 2, bytes.len() - 1] {
        let p = tmp(&format!("cut-{cut}.ckpt"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let err = checkpoint::load(&p, None, &devices.base).unwrap_err();
        assert!(err.to_string().contains(&p.display().to_string()), "{err}");
    }
    let p = tmp("garbage.ckpt");
    std::fs::write(&p, b"definitely not a checkpoint").unwrap();
    assert!(checkpoint::load(&p, None, &devices.base).is_err());
    assert!(matches!(
        checkpoint::load(&tmp("absent.ckpt"), None, &devices.base),
        Err(CheckpointError::Io { .. })
    ));
}

#[test]
fn checkpoints_from_a_newer_format_are_refused() {
    let devices = Devices::new(Device::flex());
    let s = spec(ModelKind::LeNet300);
    let model = s.init(&devices.base);
    let meta = CheckpointMeta {
        format_version: FORMAT_VERSION + 1,
        model: s,
        dataset: "fashion-mnist-mini".into(),
        seed: 0,
        epoch: 0,
        test: None,
        sparsity: 0.0,
        vocab: None,
        widths: None,
    };
    let path = tmp("future.ckpt");
    checkpoint::save(&path, &model, &meta).unwrap();
    let err = checkpoint::load(&path, None, &devices.base).unwrap_err();
    assert!(matches!(err, CheckpointError::TooNew { .. }), "{err}");
}

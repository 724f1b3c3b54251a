//! Every architecture builds, trains one batch forward+backward, and its declared layer table
//! (used for parameter and FLOP accounting) matches the parameters Burn actually holds.

use burn::prelude::*;
use shears_nn::models::{ModelKind, ModelSpec};
use shears_nn::optim::OptimizerConfig;
use shears_nn::train::cross_entropy;
use std::collections::BTreeMap;

fn shapes(spec: &ModelSpec, device: &Device) -> BTreeMap<String, Vec<usize>> {
    shears_nn::params::shapes(&spec.init(device))
        .into_iter()
        .collect()
}

fn specs() -> Vec<ModelSpec> {
    let mut out = Vec::new();
    // The language model reads tokens; tests/transformers.rs covers it.
    for kind in ModelKind::ALL
        .into_iter()
        .filter(|k| !k.is_language_model())
    {
        for (input, classes) in [([1, 28, 28], 10), ([3, 32, 32], 100)] {
            out.push(ModelSpec {
                kind,
                input,
                classes,
                shape: None,
            });
        }
    }
    out
}

#[test]
fn layer_tables_match_the_real_parameters() {
    let device = Device::flex();
    for spec in specs() {
        let actual = shapes(&spec, &device);
        for layer in spec.layers() {
            let weight = actual
                .iter()
                .find(|(p, _)| **p == format!("{}.weight", layer.path))
                .unwrap_or_else(|| panic!("{:?}: no parameter for layer {}", spec, layer.path));
            assert_eq!(
                weight.1, &layer.weight_shape,
                "{:?} {}",
                spec.kind, layer.path
            );
            let bias = actual.contains_key(&format!("{}.bias", layer.path));
            assert_eq!(bias, layer.has_bias, "{:?} {} bias", spec.kind, layer.path);
        }
        // Every conv/linear weight is declared (BatchNorm gamma/beta are 1-D and excluded).
        let declared: usize = spec.layers().len();
        let weights = actual
            .iter()
            .filter(|(p, s)| p.ends_with(".weight") && s.len() >= 2)
            .count();
        assert_eq!(declared, weights, "{:?}", spec.kind);
    }
}

#[test]
fn known_parameter_counts() {
    let count = |kind, input, classes| {
        let spec = ModelSpec {
            kind,
            input,
            classes,
            shape: None,
        };
        spec.layers().iter().map(|l| l.params()).sum::<u64>()
    };
    // LeNet-300-100: 784*300+300 + 300*100+100 + 100*10+10.
    assert_eq!(count(ModelKind::LeNet300, [1, 28, 28], 10), 266_610);
    // lenet-cifar, 10 classes: 83,126 parameters (`docs/design.md#what-is-prunable`).
    assert_eq!(count(ModelKind::LeNetCifar, [3, 32, 32], 10), 83_126);
    // ResNet-18 CIFAR (kuangliu): conv 11,159,232 + linear 5,130
    // (`docs/design.md#what-is-prunable`).
    assert_eq!(
        count(ModelKind::ResNet18, [3, 32, 32], 10),
        11_159_232 + 5_130
    );
}

#[test]
fn every_model_trains_one_batch() {
    let device = Device::flex().autodiff();
    for spec in specs() {
        device.seed(1);
        let model = spec.init(&device);
        let n = 2;
        let [c, h, w] = spec.input;
        let x = Tensor::<4>::random([n, c, h, w], burn::tensor::Distribution::Default, &device);
        let y = Tensor::<1, Int>::from_ints([0, 1], &device);
        let logits = model.forward(x.clone());
        assert_eq!(logits.dims(), [n, spec.classes], "{:?}", spec.kind);
        let loss = cross_entropy(logits, y.clone());
        let before = loss.clone().into_scalar::<f32>();
        assert!(before.is_finite(), "{:?}", spec.kind);
        let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
        let mut optim = OptimizerConfig::default().build();
        let model = optim.step(0.01, model, grads);
        let after = cross_entropy(model.forward(x), y).into_scalar::<f32>();
        assert!(
            after.is_finite() && after != before,
            "{:?}: {before} -> {after}",
            spec.kind
        );
    }
}

#[test]
fn invalid_specs_are_rejected() {
    let bad = ModelSpec {
        kind: ModelKind::LeNet5,
        input: [1, 8, 8],
        classes: 10,
        shape: None,
    };
    assert!(bad.validate().unwrap_err().contains("smaller than"));
    let bad = ModelSpec {
        kind: ModelKind::LeNet300,
        input: [1, 28, 28],
        classes: 1,
        shape: None,
    };
    assert!(bad.validate().is_err());
    assert!(
        "resnet-19"
            .parse::<ModelKind>()
            .unwrap_err()
            .contains("resnet18")
    );
}

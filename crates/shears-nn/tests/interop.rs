//! Weights in PyTorch's layout: every model kind survives shears → safetensors → shears with
//! identical logits; the file is in PyTorch's layout (Linear `[out, in]`, norms `weight`/`bias`,
//! BatchNorm running statistics); a file that does not fit is an error naming the key.

mod common;

use burn::prelude::*;
use common::{input, logits, spec, trained_like};
use shears_nn::interop::{
    ImportOptions, Layout, WeightsFormat, export_safetensors, export_safetensors_as,
    import_weights, import_weights_with, to_safetensors, to_safetensors_as,
};
use shears_nn::models::{Input, ModelKind, ModelSpec, Network};
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shears-interop-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn every_model_kind_round_trips_through_pytorch_layout_safetensors() {
    let device = Device::flex();
    for kind in ModelKind::ALL {
        let spec = spec(kind);
        let net = trained_like(&spec, &device);
        let path = scratch(&format!("{kind}.safetensors"));
        export_safetensors(&net, &[("shears_model", kind.to_string())], &path).unwrap();
        let back = import_weights(spec.init(&device), &path).unwrap();
        let x = input(&spec, 16, &device);
        assert_eq!(logits(&net, &x), logits(&back, &x), "{kind}");
    }
}

#[test]
fn the_file_is_in_pytorch_layout() {
    let device = Device::flex();
    let read = |kind: ModelKind| {
        let net = trained_like(&spec(kind), &device);
        let bytes = to_safetensors(&net, &[]).unwrap();
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        header
            .tensors()
            .into_iter()
            .map(|(k, v)| (k, v.shape.clone()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let mlp = read(ModelKind::LeNet300);
    // nn.Linear(784, 300).weight is [300, 784]; Burn stores [784, 300].
    assert_eq!(mlp["fc1.weight"], vec![300, 784]);
    assert_eq!(mlp["fc1.bias"], vec![300]);
    let resnet = read(ModelKind::ResNet20);
    for suffix in ["weight", "bias", "running_mean", "running_var"] {
        assert_eq!(resnet[&format!("stem.bn.{suffix}")], vec![16], "{suffix}");
    }
    assert_eq!(resnet["stem.conv.weight"], vec![16, 1, 3, 3]);
    assert!(
        !resnet
            .keys()
            .any(|k| k.ends_with("gamma") || k.ends_with("beta"))
    );
    let gpt = read(ModelKind::GptTiny);
    assert!(gpt.contains_key("norm.weight") && gpt.contains_key("blocks.0.ln1.bias"));
}

#[test]
fn a_file_that_does_not_fit_names_the_key() {
    let device = Device::flex();
    let lenet = spec(ModelKind::LeNet300);
    let path = scratch("refused-lenet300.safetensors");
    export_safetensors(&lenet.init(&device), &[], &path).unwrap();
    // Another class count: the last layer's shapes differ.
    let other = ModelSpec {
        classes: 7,
        ..lenet
    };
    let e = import_weights(other.init(&device), &path)
        .unwrap_err()
        .to_string();
    // In the file's (PyTorch's) layout: nn.Linear(100, 7).weight is [7, 100].
    assert!(
        e.contains("fc3.weight: expected [7, 100], file has [10, 100]"),
        "{e}"
    );
    // Another architecture: the model's convolutions are missing from the file, and the
    // other way round the file's convolutions have no place in the model.
    let e = import_weights(spec(ModelKind::LeNet5).init(&device), &path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("conv1.weight: missing from the file"), "{e}");
    assert!(e.contains(&path.display().to_string()), "{e}");
    let lenet5 = scratch("refused-lenet5.safetensors");
    export_safetensors(&spec(ModelKind::LeNet5).init(&device), &[], &lenet5).unwrap();
    let e = import_weights(lenet.init(&device), &lenet5)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("conv1.weight: in the file but not in the model"),
        "{e}"
    );
    // Not a weights file at all.
    let junk = scratch("junk.safetensors");
    std::fs::write(&junk, b"not a safetensors file").unwrap();
    let e = import_weights(lenet.init(&device), &junk)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("junk.safetensors") && e.contains("not a readable"),
        "{e}"
    );
    let e = WeightsFormat::of(&scratch("model.onnx"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model.onnx") && e.contains("expected .safetensors, .pt or .pth"),
        "{e}"
    );
}

/// The fixtures of `tools/torch_fixtures.py`: PyTorch's own LeNet-5 and ResNet-20 under
/// shears' names with random weights and BatchNorm statistics, and PyTorch's logits.
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/torch")
        .join(name)
}

fn expected(name: &str, device: &Device) -> (Input, Vec<f32>) {
    let bytes = std::fs::read(fixture("expected.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let floats = |key: &str| {
        let t = file.tensor(key).unwrap();
        let v: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        (v, t.shape().to_vec())
    };
    let (x, shape) = floats(&format!("{name}.input"));
    let x = Tensor::<1>::from_floats(x.as_slice(), device)
        .reshape([shape[0], shape[1], shape[2], shape[3]]);
    (Input::Images(x), floats(&format!("{name}.logits")).0)
}

#[test]
fn pytorch_state_dicts_give_pytorchs_logits() {
    let device = Device::flex();
    for (kind, file) in [
        (ModelKind::LeNet5, "lenet5.pt"),
        (ModelKind::LeNet5, "lenet5.safetensors"),
        (ModelKind::ResNet20, "resnet20.pt"),
    ] {
        let skeleton = spec(kind).init(&device);
        let net = import_weights(skeleton, &fixture(file)).unwrap();
        let (x, want) = expected(&kind.to_string(), &device);
        let got = logits(&net, &x);
        let diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert_eq!(got.len(), want.len(), "{file}");
        assert!(
            diff <= 1e-4,
            "{file}: logits differ from PyTorch's by {diff}"
        );
    }
}

#[test]
fn reset_head_keeps_the_body_and_reinitialises_another_class_count() {
    let device = Device::flex();
    let ten = spec(ModelKind::ResNet20);
    let net = trained_like(&ten, &device);
    let path = scratch("reset-head-resnet20.safetensors");
    export_safetensors(&net, &[], &path).unwrap();
    let seven = ModelSpec { classes: 7, ..ten };
    // Refused without the option, naming the head.
    let e = import_weights(seven.init(&device), &path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("fc.weight: expected [7, 64]"), "{e}");
    let fresh = seven.init(&device);
    let fresh_head = tensors(&fresh, "fc.");
    let (back, reset) = import_weights_with(fresh, &path, &reset_head()).unwrap();
    assert!(reset);
    // The body is the file's (stem, every block, BatchNorm statistics); the head is the
    // fresh model's.
    let (file, got) = (tensors(&net, ""), tensors(&back, ""));
    for (k, v) in &file {
        if !k.starts_with("fc.") {
            assert_eq!(Some(v), got.get(k), "{k}");
        }
    }
    assert_eq!(tensors(&back, "fc."), fresh_head);
    // The same class count: nothing to reset.
    let (_, reset) = import_weights_with(ten.init(&device), &path, &reset_head()).unwrap();
    assert!(!reset);
}

/// Every tensor of `net` under `prefix`, by PyTorch-layout name, as raw bytes.
fn tensors(net: &Network, prefix: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let bytes = to_safetensors(net, &[]).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k, v.data().to_vec()))
        .collect()
}

fn reset_head() -> ImportOptions {
    ImportOptions {
        reset_head: true,
        ..ImportOptions::default()
    }
}

/// A PyTorch ResNet-18's state dict, key by key with its shapes, written out from the
/// definitions: the reference code's CIFAR one (kuangliu's `models/resnet.py`, the paper's:
/// 3x3 stem, `shortcut`, `linear`) or torchvision's (7x7 stem, `downsample`, `fc`), without
/// `num_batches_tracked` (which the importer ignores and the exporter leaves out).
fn resnet18_keys(
    stem: usize,
    shortcut: &str,
    head: &str,
    classes: usize,
) -> std::collections::BTreeMap<String, Vec<usize>> {
    let mut out = std::collections::BTreeMap::new();
    let mut bn = |p: &str, c: usize| {
        for s in ["weight", "bias", "running_mean", "running_var"] {
            out.insert(format!("{p}.{s}"), vec![c]);
        }
    };
    bn("bn1", 64);
    let mut keys = vec![("conv1.weight".to_string(), vec![64, 3, stem, stem])];
    let mut c_in = 64;
    for (stage, width) in [64, 128, 256, 512].into_iter().enumerate() {
        for b in 0..2 {
            let p = format!("layer{}.{b}", stage + 1);
            let inp = if b == 0 { c_in } else { width };
            keys.push((format!("{p}.conv1.weight"), vec![width, inp, 3, 3]));
            keys.push((format!("{p}.conv2.weight"), vec![width, width, 3, 3]));
            bn(&format!("{p}.bn1"), width);
            bn(&format!("{p}.bn2"), width);
            if b == 0 && stage > 0 {
                keys.push((format!("{p}.{shortcut}.0.weight"), vec![width, inp, 1, 1]));
                bn(&format!("{p}.{shortcut}.1"), width);
            }
        }
        c_in = width;
    }
    keys.push((format!("{head}.weight"), vec![classes, 512]));
    keys.push((format!("{head}.bias"), vec![classes]));
    out.extend(keys);
    out
}

fn reference_resnet18_keys(classes: usize) -> std::collections::BTreeMap<String, Vec<usize>> {
    resnet18_keys(3, "shortcut", "linear", classes)
}

#[test]
fn torchvisions_imagenet_resnet18_has_torchvisions_keys_and_shapes() {
    let spec = ModelSpec {
        kind: ModelKind::ResNet18ImageNet,
        input: [3, 224, 224],
        classes: 1000,
        shape: None,
    };
    let net = spec.init(&Device::flex());
    let bytes = to_safetensors_as(&net, &[], Layout::Torchvision).unwrap();
    assert_eq!(
        header_shapes(&bytes),
        resnet18_keys(7, "downsample", "fc", 1000)
    );
}

fn header_shapes(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<usize>> {
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    header
        .tensors()
        .into_iter()
        .map(|(k, v)| (k, v.shape.clone()))
        .collect()
}

#[test]
fn resnets_go_out_and_in_under_the_reference_codes_and_torchvisions_names() {
    let device = Device::flex();
    let spec18 = spec(ModelKind::ResNet18);
    let net = trained_like(&spec18, &device);
    // The full ResNet-18: every key and shape of the reference definition, nothing else.
    let bytes = to_safetensors_as(&net, &[], Layout::Reference).unwrap();
    assert_eq!(header_shapes(&bytes), reference_resnet18_keys(10));
    // torchvision's names for the same network.
    let tv = header_shapes(&to_safetensors_as(&net, &[], Layout::Torchvision).unwrap());
    assert!(tv.contains_key("layer2.0.downsample.0.weight") && tv.contains_key("fc.bias"));
    assert!(
        !tv.keys()
            .any(|k| k.contains("shortcut") || k.starts_with("linear"))
    );
    // Back in under each layout: the same logits.
    let x = input(&spec18, 16, &device);
    for layout in [Layout::Reference, Layout::Torchvision] {
        let path = scratch(&format!("resnet18-{layout}.safetensors"));
        export_safetensors_as(&net, &[], layout, &path).unwrap();
        let options = ImportOptions {
            layout,
            ..ImportOptions::default()
        };
        let (back, _) = import_weights_with(spec18.init(&device), &path, &options).unwrap();
        assert_eq!(logits(&net, &x), logits(&back, &x), "{layout}");
        // Read with shears' own names, the file does not fit: every parameter is missing.
        let e = import_weights(spec18.init(&device), &path)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("blocks.0.conv1.conv.weight: missing from the file"),
            "{e}"
        );
    }
    // A ResNet-20 file read as a ResNet-18: problems named as the reference names them.
    let spec20 = spec(ModelKind::ResNet20);
    let path = scratch("resnet20-reference.safetensors");
    export_safetensors_as(&spec20.init(&device), &[], Layout::Reference, &path).unwrap();
    let options = ImportOptions {
        layout: Layout::Reference,
        ..ImportOptions::default()
    };
    let e = import_weights_with(spec18.init(&device), &path, &options)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("layer1.0.conv1.weight: expected [64, 64, 3, 3], file has [16, 16, 3, 3]"),
        "{e}"
    );
    // Only the ResNets have another layout.
    let e = to_safetensors_as(
        &spec(ModelKind::LeNet5).init(&device),
        &[],
        Layout::Reference,
    )
    .unwrap_err();
    assert!(e.contains("for the ResNets"), "{e}");
}

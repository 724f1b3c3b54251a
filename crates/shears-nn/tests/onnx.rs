//! ONNX export: every model kind, run by tract (an independent ONNX runtime), gives shears'
//! own logits — dense with moved BatchNorm statistics, and physically shrunk (a smaller
//! file) — and a language model reads sequences shorter than its context.

mod common;

use burn::prelude::*;
use common::{input, logits, spec, trained_like};
use shears_nn::interop::{ImportOptions, Layout, export_safetensors_as, import_weights_with};
use shears_nn::models::{Input, ModelKind, ModelSpec, Network};
use shears_nn::onnx::to_onnx;
use shears_nn::structured::{apply_channel_masks, channel_groups, prune_to, shrink, widths};
use tract_onnx::prelude::{Tensor as TractTensor, tract_ndarray};

/// tract's side, in a module of its own: its prelude's names (Tensor, Graph) would clash with
/// Burn's.
mod tract {
    use tract_onnx::prelude::*;

    /// The graph in `bytes`, optimised and run on `input`; its first output as f32s.
    pub fn run(bytes: &[u8], input: Tensor) -> Vec<f32> {
        let model = tract_onnx::onnx()
            .model_for_read(&mut &*bytes)
            .unwrap()
            .into_optimized()
            .unwrap()
            .into_runnable()
            .unwrap();
        let out = model.run(tvec!(input.into_tvalue())).unwrap();
        out[0]
            .to_plain_array_view::<f32>()
            .unwrap()
            .iter()
            .copied()
            .collect()
    }
}

/// The exported graph run by tract on the same input.
fn tract_logits(bytes: &[u8], x: &Input) -> Vec<f32> {
    let input: TractTensor = match x {
        Input::Images(t) => {
            let dims = t.dims();
            let v: Vec<f32> = t.clone().into_data().try_to_vec().unwrap();
            tract_ndarray::Array4::from_shape_vec((dims[0], dims[1], dims[2], dims[3]), v)
                .unwrap()
                .into()
        }
        Input::Tokens(t) => {
            let dims = t.dims();
            let v: Vec<i64> = t.clone().into_data().convert::<i64>().try_to_vec().unwrap();
            tract_ndarray::Array2::from_shape_vec((dims[0], dims[1]), v)
                .unwrap()
                .into()
        }
    };
    tract::run(bytes, input)
}

/// Largest difference, relative to the logit's size where that is above 1.
fn max_rel_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(1.0))
        .fold(0.0, f32::max)
}

fn assert_same(kind: ModelKind, net: &Network, spec: &ModelSpec, x: &Input, what: &str) -> usize {
    let bytes = to_onnx(net, spec, &[("shears", "test".into())]).unwrap();
    let (ours, theirs) = (logits(net, x), tract_logits(&bytes, x));
    let d = max_rel_diff(&ours, &theirs);
    assert!(d <= 1e-4, "{kind} {what}: tract's logits differ by {d:e}");
    bytes.len()
}

#[test]
fn every_model_kind_exports_to_onnx_with_the_same_logits() {
    let device = Device::flex();
    for kind in ModelKind::ALL {
        let spec = spec(kind);
        let net = trained_like(&spec, &device);
        let x = input(&spec, 16, &device);
        assert_same(kind, &net, &spec, &x, "dense");
    }
}

#[test]
fn a_language_model_exports_for_any_length_up_to_its_context() {
    let device = Device::flex();
    let spec = spec(ModelKind::GptTiny);
    let net = trained_like(&spec, &device);
    for tokens in [1, 9] {
        let x = input(&spec, tokens, &device);
        assert_same(spec.kind, &net, &spec, &x, &format!("{tokens} tokens"));
    }
}

#[test]
fn shrunk_models_export_with_their_logits_in_smaller_files() {
    let device = Device::flex();
    for kind in [ModelKind::LeNet5, ModelKind::ResNet20, ModelKind::VitTiny] {
        let spec = spec(kind);
        let net = trained_like(&spec, &device);
        let x = input(&spec, 16, &device);
        let dense = assert_same(kind, &net, &spec, &x, "dense");
        // Half of every channel group (heads and neurons for the transformer) cut out.
        let half = widths(&net)
            .into_iter()
            .map(|(g, n)| (g, n.div_ceil(2)))
            .collect();
        let shrunk = prune_to(&net, &half).unwrap();
        let small = assert_same(kind, &shrunk, &spec, &x, "shrunk");
        assert!(
            (small as f64) < 0.6 * dense as f64,
            "{kind}: shrunk file {small} bytes against {dense} dense"
        );
    }
}

/// The path the issue asks for: torchvision's ImageNet ResNet-18, imported by torchvision's
/// names, half of every channel group cut out, exported to ONNX — the graph predicts what the
/// masked model predicts, from a much smaller file.
#[test]
fn an_imported_torchvision_resnet18_pruned_and_shrunk_exports_the_masked_predictions() {
    let device = Device::flex();
    let spec = spec(ModelKind::ResNet18ImageNet);
    let original = trained_like(&spec, &device);
    let dir = std::env::temp_dir().join(format!("shears-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("resnet18-torchvision.safetensors");
    export_safetensors_as(&original, &[], Layout::Torchvision, &file).unwrap();
    let options = ImportOptions {
        layout: Layout::Torchvision,
        ..ImportOptions::default()
    };
    let (net, _) = import_weights_with(spec.init(&device), &file, &options).unwrap();
    let net = net.valid();
    let groups = channel_groups(&net);
    let keep: Vec<Vec<bool>> = groups
        .iter()
        .map(|g| (0..g.channels).map(|c| c % 2 == 0).collect())
        .collect();
    let masked = apply_channel_masks(&net, &groups, &keep).unwrap();
    let shrunk = shrink(&net, &groups, &keep).unwrap();
    let x = input(&spec, 16, &device);
    let dense_bytes = to_onnx(&net, &spec, &[]).unwrap();
    let bytes = to_onnx(&shrunk, &spec, &[]).unwrap();
    let (want, got) = (logits(&masked, &x), tract_logits(&bytes, &x));
    let d = max_rel_diff(&want, &got);
    assert!(d <= 1e-4, "shrunk ONNX vs masked model: {d:e}");
    let argmax = |v: &[f32]| -> Vec<usize> {
        v.chunks(spec.classes)
            .map(|r| (0..r.len()).fold(0, |b, i| if r[i] > r[b] { i } else { b }))
            .collect()
    };
    assert_eq!(argmax(&want), argmax(&got));
    // Half the channels leave about a quarter of the convolution weights.
    let ratio = bytes.len() as f64 / dense_bytes.len() as f64;
    assert!(ratio < 0.5, "shrunk file is {ratio:.2} of the dense one");
}

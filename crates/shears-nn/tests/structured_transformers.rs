//! Structured pruning of the transformers: whole attention heads and MLP hidden neurons.
//! Masking a group and cutting it out compute the same function (to 1e-5), the shrunk model's
//! head counts and shapes agree, and a shrunk model survives a checkpoint round trip through
//! the skeleton its widths describe.

use burn::prelude::*;
use burn::tensor::Distribution;
use shears_nn::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use shears_nn::models::{Input, ModelKind, ModelSpec, Network};
use shears_nn::structured::{
    GroupRatios, Importance, StructuredPlan, apply_channel_masks, channel_groups,
    check_consistency, footprint, shrink, skeleton, widths,
};

const TOL: f32 = 1e-5;

fn spec(kind: ModelKind) -> ModelSpec {
    match kind {
        ModelKind::GptTiny => ModelSpec {
            kind,
            input: [1, 1, 32],
            classes: 40,
            shape: None,
        },
        _ => ModelSpec {
            kind,
            input: [1, 28, 28],
            classes: 10,
            shape: None,
        },
    }
}

fn input(spec: &ModelSpec, device: &Device) -> Input {
    if spec.kind.is_language_model() {
        let t = spec.input[2];
        let ids = Tensor::<2>::random(
            [3, t],
            Distribution::Uniform(0.0, spec.classes as f64),
            device,
        );
        Input::Tokens(ids.int())
    } else {
        let [c, h, w] = spec.input;
        Input::Images(Tensor::<4>::random(
            [3, c, h, w],
            Distribution::Normal(0.0, 1.0),
            device,
        ))
    }
}

fn logits(net: &Network, x: &Input) -> Vec<f32> {
    net.valid()
        .forward(x.clone())
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn heads(net: &Network) -> Vec<usize> {
    let blocks = match net {
        Network::Vit(m) => &m.blocks,
        Network::Gpt(m) => &m.blocks,
        _ => unreachable!("a transformer"),
    };
    blocks.iter().map(|b| b.attn.heads).collect()
}

/// Halves heads and neurons one-shot, both ways, and checks they agree.
fn surgery_equals_masks(kind: ModelKind) -> (ModelSpec, Network, Network) {
    let device = Device::flex();
    device.seed(7);
    let spec = spec(kind);
    let net = spec.init(&device);
    let groups = channel_groups(&net);
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        &names[..2],
        ["blocks.0.attn", "blocks.0.mlp.fc1"],
        "{kind}: heads then neurons per block"
    );
    let plan =
        StructuredPlan::new(&net, Importance::default(), &GroupRatios::uniform(0.5)).unwrap();
    let masked = apply_channel_masks(&net, &plan.groups, &plan.keep).unwrap();
    let shrunk = shrink(&net, &plan.groups, &plan.keep).unwrap();
    check_consistency(&shrunk).unwrap();
    let x = input(&spec, &device);
    let (d, m, s) = (logits(&net, &x), logits(&masked, &x), logits(&shrunk, &x));
    let diff = max_abs_diff(&m, &s);
    assert!(
        diff < TOL,
        "{kind}: masked vs shrunk logits differ by {diff:e}"
    );
    assert!(
        max_abs_diff(&d, &m) > 1e-3,
        "{kind}: pruning half the heads must change the function"
    );
    let full = heads(&net);
    let cut = heads(&shrunk);
    assert!(
        full.iter().zip(&cut).all(|(f, c)| *c == f / 2),
        "{full:?} -> {cut:?}"
    );
    let (before, after) = (
        footprint(&net, &spec).unwrap(),
        footprint(&shrunk, &spec).unwrap(),
    );
    assert!(after.layer_params < before.layer_params);
    assert!(after.flops < before.flops);
    (spec, shrunk, net)
}

#[test]
fn vit_heads_and_neurons_cut_out_compute_what_their_masks_compute() {
    surgery_equals_masks(ModelKind::VitTiny);
}

#[test]
fn gpt_heads_and_neurons_cut_out_compute_what_their_masks_compute() {
    surgery_equals_masks(ModelKind::GptTiny);
}

#[test]
fn a_shrunk_transformer_reloads_into_its_skeleton() {
    let (spec, shrunk, _) = surgery_equals_masks(ModelKind::GptTiny);
    let device = Device::flex();
    let dir = std::env::temp_dir().join(format!("shears-st-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let w = widths(&shrunk);
    let meta = |widths| CheckpointMeta {
        format_version: FORMAT_VERSION,
        model: spec,
        dataset: "kjv-mini".into(),
        seed: 7,
        epoch: 0,
        test: None,
        sparsity: 0.5,
        vocab: None,
        widths,
    };
    let x = input(&spec, &device);
    let check = |loaded: &Network| {
        assert_eq!(heads(loaded), heads(&shrunk));
        let diff = max_abs_diff(&logits(loaded, &x), &logits(&shrunk, &x));
        assert!(diff < TOL, "reloaded logits differ by {diff:e}");
    };
    // Without recorded widths, the caller supplies the skeleton (a run's pruning state).
    let bare = dir.join("shrunk-bare.ckpt");
    checkpoint::save(&bare, &shrunk, &meta(None)).unwrap();
    let (loaded, _) =
        checkpoint::load_with(&bare, Some(&spec), |m| skeleton(&m.model, &w, &device)).unwrap();
    check(&loaded);
    let e = checkpoint::load(&bare, Some(&spec), &device).unwrap_err();
    assert!(e.to_string().contains("shrunk-bare.ckpt"), "{e}");
    // With them, the file alone rebuilds the model.
    let described = dir.join("shrunk.ckpt");
    checkpoint::save(&described, &shrunk, &meta(Some(w.clone()))).unwrap();
    check(
        &checkpoint::load(&described, Some(&spec), &device)
            .unwrap()
            .0,
    );
}

#[test]
fn inconsistent_head_shapes_are_caught() {
    let device = Device::flex();
    let spec = spec(ModelKind::VitTiny);
    let mut net = spec.init(&device);
    if let Network::Vit(m) = &mut net {
        // k loses columns q keeps: no longer whole, matching heads.
        let w = m.blocks[1].attn.k.weight.val().narrow(1, 0, 96);
        m.blocks[1].attn.k.weight = burn::module::Param::from_tensor(w);
        m.blocks[1].attn.k.bias = None;
    }
    let err = check_consistency(&net).unwrap_err().to_string();
    assert!(err.contains("blocks.1.attn.k"), "{err}");
}

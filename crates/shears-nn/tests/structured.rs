//! Structured pruning: channel groups, group scores, and the two realisations (masks vs
//! physical surgery) computing the same function in eval mode.
//!
//! BN statistics are set to random values so that a wrong running-stat selection changes the
//! logits; the ResNet checks include residual groups spanning the stem, projections and every
//! block of a stage.

use burn::module::RunningState;
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::Distribution;
use shears_nn::models::{ModelKind, ModelSpec, Network};
use shears_nn::params::visit_floats;
use shears_nn::structured::{
    ChannelGroup, GroupRatios, Importance, Role, StructuredError, StructuredPlan,
    apply_channel_masks, channel_groups, check_consistency, footprint, group_importance,
    layer_infos, select_groups, shrink,
};
use std::collections::HashMap;

const TOL: f32 = 1e-5;

fn randomize_bn(bn: &mut BatchNorm, device: &Device) {
    let n = bn.gamma.dims()[0];
    let u = |lo, hi| Tensor::<1>::random([n], Distribution::Uniform(lo, hi), device);
    bn.gamma = bn.gamma.clone().map(|_| u(0.5, 1.5));
    bn.beta = bn.beta.clone().map(|_| u(-0.5, 0.5));
    bn.running_mean = RunningState::new(u(-0.5, 0.5));
    bn.running_var = RunningState::new(u(0.5, 2.0));
}

/// A seeded random network whose BN layers have non-trivial gamma, beta and statistics.
fn model(kind: ModelKind, input: [usize; 3], seed: u64) -> (ModelSpec, Network, Device) {
    let device = Device::flex();
    device.seed(seed);
    let spec = ModelSpec {
        kind,
        input,
        classes: 10,
        shape: None,
    };
    let mut net = spec.init(&device);
    match &mut net {
        Network::Vgg(m) => m
            .features
            .iter_mut()
            .for_each(|f| randomize_bn(&mut f.bn, &device)),
        Network::ResNet(m) => {
            randomize_bn(&mut m.stem.bn, &device);
            for b in &mut m.blocks {
                randomize_bn(&mut b.conv1.bn, &device);
                randomize_bn(&mut b.conv2.bn, &device);
                if let Some(s) = &mut b.shortcut {
                    randomize_bn(&mut s.bn, &device);
                }
            }
        }
        Network::Mlp(_) | Network::LeNet(_) | Network::Vit(_) | Network::Gpt(_) => {}
    }
    (spec, net, device)
}

fn logits(net: &Network, x: &Tensor<4>) -> Vec<f32> {
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

fn params(net: &Network) -> HashMap<String, (Vec<f32>, Vec<usize>)> {
    let mut out = HashMap::new();
    visit_floats(net, |p, t| {
        out.insert(p.to_string(), (t.to_vec(), t.dims()));
    });
    out
}

fn kept(keep: &[bool]) -> Vec<usize> {
    keep.iter()
        .enumerate()
        .filter(|(_, k)| **k)
        .map(|(i, _)| i)
        .collect()
}

struct Outcome {
    plan: StructuredPlan,
    dense: Vec<f32>,
    masked_net: Network,
    shrunk_net: Network,
    diff: f32,
    dense_diff: f32,
}

/// Plans a one-shot step, realises it both ways and compares logits on random inputs.
fn prune_both_ways(
    spec: &ModelSpec,
    net: &Network,
    device: &Device,
    ratios: &GroupRatios,
) -> Outcome {
    let plan = StructuredPlan::new(net, Importance::default(), ratios).unwrap();
    let masked_net = apply_channel_masks(net, &plan.groups, &plan.keep).unwrap();
    let shrunk_net = shrink(net, &plan.groups, &plan.keep).unwrap();
    let [c, h, w] = spec.input;
    let x = Tensor::<4>::random([3, c, h, w], Distribution::Normal(0.0, 1.0), device);
    let dense = logits(net, &x);
    let masked = logits(&masked_net, &x);
    let shrunk = logits(&shrunk_net, &x);
    let diff = max_abs_diff(&masked, &shrunk);
    let dense_diff = max_abs_diff(&dense, &masked);
    eprintln!(
        "{}: max |logit masked - shrunk| = {diff:e}, |dense - masked| = {dense_diff:.3}",
        spec.kind
    );
    Outcome {
        plan,
        dense,
        masked_net,
        shrunk_net,
        diff,
        dense_diff,
    }
}

/// Sizes shrink, and the layer table of the shrunk model matches its real tensors.
fn check_accounting(spec: &ModelSpec, before: &Network, after: &Network) {
    let fb = footprint(before, spec).unwrap();
    let fa = footprint(after, spec).unwrap();
    eprintln!(
        "{}: params {} -> {}, FLOPs {} -> {}",
        spec.kind, fb.layer_params, fa.layer_params, fb.flops, fa.flops
    );
    assert!(fa.layer_params < fb.layer_params);
    assert!(fa.trainable_params < fb.trainable_params);
    assert!(fa.flops < fb.flops);
    assert_eq!(
        fb.flops,
        spec.flops(),
        "dense footprint = declared dense FLOPs"
    );
    let real = params(after);
    let mut counted = 0u64;
    for l in layer_infos(after, spec).unwrap() {
        let (w, shape) = &real[&format!("{}.weight", l.path)];
        assert_eq!(shape, &l.weight_shape, "{}", l.path);
        counted += w.len() as u64;
        if let Some((b, _)) = real.get(&format!("{}.bias", l.path)) {
            assert!(l.has_bias);
            assert_eq!(b.len(), l.out_channels(), "{}", l.path);
            counted += b.len() as u64;
        }
    }
    assert_eq!(counted, fa.layer_params);
    let trainable: usize = real
        .iter()
        .filter(|(p, _)| !p.contains("running_"))
        .map(|(_, (w, _))| w.len())
        .sum();
    assert_eq!(trainable as u64, fa.trainable_params);
}

/// Every producer entry of a removed channel is zero in the masked model, kept ones untouched.
fn check_masked_zeros(
    dense: &Network,
    masked: &Network,
    groups: &[ChannelGroup],
    keep: &[Vec<bool>],
) {
    let (d, m) = (params(dense), params(masked));
    for (g, keep) in groups.iter().zip(keep) {
        for s in g.slices_with(Role::Producer) {
            let (dv, shape) = &d[&s.param];
            let (mv, _) = &m[&s.param];
            let outer: usize = shape[..s.dim].iter().product();
            let inner: usize = shape[s.dim + 1..].iter().product::<usize>() * s.block;
            for o in 0..outer {
                for (c, &k) in keep.iter().enumerate() {
                    let start = (o * g.channels + c) * inner;
                    for i in start..start + inner {
                        let want = if k { dv[i] } else { 0.0 };
                        assert_eq!(mv[i], want, "{} channel {c}", s.param);
                    }
                }
            }
        }
    }
}

fn conv_out(c: &burn::nn::conv::Conv2d) -> usize {
    c.weight.dims()[0]
}

fn conv_in(c: &burn::nn::conv::Conv2d) -> usize {
    c.weight.dims()[1]
}

#[test]
fn resnet20_surgery_equals_masks_with_residual_groups() {
    let (spec, net, device) = model(ModelKind::ResNet20, [3, 32, 32], 11);
    let ratios = GroupRatios::uniform(0.4).with("stage2", 0.5);
    let out = prune_both_ways(&spec, &net, &device, &ratios);
    assert!(out.diff < TOL, "masked vs shrunk differ by {}", out.diff);
    assert!(out.dense_diff > 1e-3, "pruning should change the function");
    assert!(out.dense.iter().all(|x| x.is_finite()));
    check_masked_zeros(&net, &out.masked_net, &out.plan.groups, &out.plan.keep);
    check_accounting(&spec, &net, &out.shrunk_net);

    // Stage widths: 16 - floor(6.4), 32 - floor(12.8), 64 - floor(32); conv1 groups alike.
    let widths = [10, 20, 32];
    let Network::ResNet(m) = &out.shrunk_net else {
        unreachable!()
    };
    assert_eq!(conv_out(&m.stem.conv), widths[0]);
    let mut c = widths[0];
    for (i, b) in m.blocks.iter().enumerate() {
        let stage = i / 3;
        let w = widths[stage];
        assert_eq!(
            conv_in(&b.conv1.conv),
            c,
            "block {i} reads the residual stream"
        );
        assert_eq!(conv_out(&b.conv1.conv), w, "block {i} inner width");
        assert_eq!(conv_in(&b.conv2.conv), w);
        assert_eq!(conv_out(&b.conv2.conv), w, "block {i} output");
        if let Some(s) = &b.shortcut {
            assert_eq!((conv_in(&s.conv), conv_out(&s.conv)), (c, w));
        }
        assert_eq!(b.conv2.bn.running_var.value().dims(), [w]);
        c = w;
    }
    assert_eq!(m.fc.weight.dims(), [widths[2], 10]);
    assert!(check_consistency(&out.shrunk_net).is_ok());
}

#[test]
fn resnet18_surgery_equals_masks_with_stage_ratios() {
    let (spec, net, device) = model(ModelKind::ResNet18, [3, 32, 32], 5);
    // Paper Table 2, "Model 1" per-stage ratios (conv1 shares stage 0's residual group).
    let ratios = GroupRatios::uniform(0.5)
        .with("stage0", 0.2)
        .with("stage1", 0.3)
        .with("stage2", 0.4)
        .with("stage3", 0.5);
    let out = prune_both_ways(&spec, &net, &device, &ratios);
    assert!(out.diff < TOL, "masked vs shrunk differ by {}", out.diff);
    assert!(out.dense_diff > 1e-3);
    let Network::ResNet(m) = &out.shrunk_net else {
        unreachable!()
    };
    let stage_widths: Vec<usize> = [0, 2, 4, 6]
        .iter()
        .map(|&i| conv_out(&m.blocks[i].conv2.conv))
        .collect();
    assert_eq!(stage_widths, vec![64 - 12, 128 - 38, 256 - 102, 512 - 256]);
    check_accounting(&spec, &net, &out.shrunk_net);
}

#[test]
fn vgg11_surgery_equals_masks() {
    let (spec, net, device) = model(ModelKind::Vgg11, [3, 32, 32], 7);
    let ratios = GroupRatios::uniform(0.5).with("features.0.conv", 0.3);
    let out = prune_both_ways(&spec, &net, &device, &ratios);
    assert!(out.diff < TOL, "masked vs shrunk differ by {}", out.diff);
    assert!(out.dense_diff > 1e-3);
    assert_eq!(out.plan.kept(), vec![45, 64, 128, 128, 256, 256, 256, 256]);
    check_masked_zeros(&net, &out.masked_net, &out.plan.groups, &out.plan.keep);
    check_accounting(&spec, &net, &out.shrunk_net);
    let Network::Vgg(m) = &out.shrunk_net else {
        unreachable!()
    };
    assert_eq!(m.classifier.weight.dims(), [256, 10]);
    assert_eq!(conv_in(&m.features[1].conv), 45);

    // The masked model keeps its shape; surgery keeps exactly the selected filters.
    assert_eq!(
        shears_nn::params::shapes(&out.masked_net),
        shears_nn::params::shapes(&net)
    );
    let (d, s) = (params(&net), params(&out.shrunk_net));
    let keep0 = kept(&out.plan.keep[0]);
    let keep1 = kept(&out.plan.keep[1]);
    let (w, shape) = &d["features.1.conv.weight"];
    let (sw, sshape) = &s["features.1.conv.weight"];
    assert_eq!(sshape, &vec![keep1.len(), keep0.len(), 3, 3]);
    for (a, &o) in keep1.iter().enumerate() {
        for (b, &i) in keep0.iter().enumerate() {
            for k in 0..9 {
                assert_eq!(
                    sw[(a * keep0.len() + b) * 9 + k],
                    w[(o * shape[1] + i) * 9 + k]
                );
            }
        }
    }
    let mean = &d["features.0.bn.running_mean"].0;
    let smean = &s["features.0.bn.running_mean"].0;
    assert_eq!(smean, &keep0.iter().map(|&c| mean[c]).collect::<Vec<_>>());
}

#[test]
fn lenet5_channels_through_flatten_and_neurons() {
    let (spec, net, device) = model(ModelKind::LeNet5, [1, 28, 28], 3);
    let out = prune_both_ways(&spec, &net, &device, &GroupRatios::uniform(0.5));
    assert!(out.diff < TOL, "masked vs shrunk differ by {}", out.diff);
    assert!(out.dense_diff > 1e-3);
    assert_eq!(out.plan.kept(), vec![3, 8, 60, 42]);
    check_masked_zeros(&net, &out.masked_net, &out.plan.groups, &out.plan.keep);
    check_accounting(&spec, &net, &out.shrunk_net);

    // conv2 channel c maps to fc1 input rows c*25 .. c*25+25 (16 x 5 x 5 flatten).
    let (d, s) = (params(&net), params(&out.shrunk_net));
    let channels = kept(&out.plan.keep[1]);
    let neurons = kept(&out.plan.keep[2]);
    let (w, _) = &d["fc1.weight"];
    let (sw, sshape) = &s["fc1.weight"];
    assert_eq!(sshape, &vec![8 * 25, 60]);
    for (j, &c) in channels.iter().enumerate() {
        for t in 0..25 {
            for (k, &n) in neurons.iter().enumerate() {
                assert_eq!(sw[(j * 25 + t) * 60 + k], w[(c * 25 + t) * 120 + n]);
            }
        }
    }
    assert_eq!(s["conv2.bias"].0.len(), 8);
    assert_eq!(s["fc2.weight"].1, vec![60, 42]);
    assert_eq!(s["fc3.weight"].1, vec![42, 10]);

    // The reference CIFAR flavour (average pooling, 3x32x32, 16 x 6 x 6 flatten) too.
    let (spec, net, device) = model(ModelKind::LeNetCifar, [3, 32, 32], 4);
    let out = prune_both_ways(&spec, &net, &device, &GroupRatios::uniform(0.3));
    assert!(out.diff < TOL, "lenet-cifar: {}", out.diff);
    assert_eq!(params(&out.shrunk_net)["fc1.weight"].1, vec![12 * 36, 84]);
}

#[test]
fn lenet300_neurons() {
    let (spec, net, device) = model(ModelKind::LeNet300, [1, 28, 28], 9);
    let ratios = GroupRatios::uniform(0.3).with("fc2", 0.75);
    let out = prune_both_ways(&spec, &net, &device, &ratios);
    assert!(out.diff < TOL, "masked vs shrunk differ by {}", out.diff);
    assert!(out.dense_diff > 1e-4);
    assert_eq!(out.plan.kept(), vec![210, 25]);
    let s = params(&out.shrunk_net);
    assert_eq!(s["fc1.weight"].1, vec![784, 210]);
    assert_eq!(s["fc1.bias"].1, vec![210]);
    assert_eq!(s["fc2.weight"].1, vec![210, 25]);
    assert_eq!(s["fc3.weight"].1, vec![25, 10]);
    check_accounting(&spec, &net, &out.shrunk_net);
}

fn slice_params(g: &ChannelGroup, role: Role) -> Vec<(String, usize)> {
    g.slices_with(role)
        .map(|s| (s.param.clone(), s.dim))
        .collect()
}

#[test]
fn resnet_groups_couple_residual_channels() {
    let (_, net, _) = model(ModelKind::ResNet20, [3, 32, 32], 1);
    let groups = channel_groups(&net);
    assert_eq!(groups.len(), 3 + 9);
    let residual: Vec<&ChannelGroup> = groups.iter().filter(|g| g.is_residual()).collect();
    let names: Vec<&str> = residual.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["stage0", "stage1", "stage2"]);
    assert_eq!(
        residual.iter().map(|g| g.channels).collect::<Vec<_>>(),
        [16, 32, 64]
    );

    let s1 = residual[1];
    assert_eq!(
        s1.layers,
        [
            "blocks.3.shortcut.conv",
            "blocks.3.conv2.conv",
            "blocks.4.conv2.conv",
            "blocks.5.conv2.conv"
        ]
    );
    let consumers = slice_params(s1, Role::Consumer);
    assert_eq!(
        consumers,
        [
            ("blocks.4.conv1.conv.weight".to_string(), 1),
            ("blocks.5.conv1.conv.weight".to_string(), 1),
            ("blocks.6.conv1.conv.weight".to_string(), 1),
            ("blocks.6.shortcut.conv.weight".to_string(), 1),
        ]
    );
    // Producers: 4 conv weights + 4 BN (gamma, beta); 4 BN x 2 running stats.
    assert_eq!(s1.slices_with(Role::Producer).count(), 4 + 8);
    assert_eq!(s1.slices_with(Role::BnStat).count(), 8);
    assert!(slice_params(s1, Role::Producer).contains(&("blocks.3.shortcut.bn.gamma".into(), 0)));
    // Stage 0 includes the stem and the first stage's identity blocks; stage 2 feeds fc rows.
    assert_eq!(residual[0].layers[0], "stem.conv");
    assert_eq!(
        slice_params(residual[2], Role::Consumer).last().unwrap(),
        &("fc.weight".to_string(), 0)
    );
    let inner = groups
        .iter()
        .find(|g| g.name == "blocks.4.conv1.conv")
        .unwrap();
    assert_eq!(inner.stage, Some(1));
    assert_eq!(
        slice_params(inner, Role::Consumer),
        [("blocks.4.conv2.conv.weight".to_string(), 1)]
    );

    let (_, net18, _) = model(ModelKind::ResNet18, [3, 32, 32], 1);
    let g18 = channel_groups(&net18);
    assert_eq!(g18.len(), 4 + 8);
    assert_eq!(g18.iter().filter(|g| g.is_residual()).count(), 4);
}

#[test]
fn importance_is_the_norm_over_all_coupled_producers() {
    let (_, net, _) = model(ModelKind::ResNet20, [3, 32, 32], 2);
    let groups = channel_groups(&net);
    let scores = group_importance(&net, &groups, Importance::default()).unwrap();
    let p = params(&net);
    let g = &groups[0];
    assert_eq!(g.name, "stage0");
    for c in [0usize, 7, 15] {
        let mut sq = 0f64;
        for prefix in ["stem", "blocks.0.conv2", "blocks.1.conv2", "blocks.2.conv2"] {
            let (w, shape) = &p[&format!("{prefix}.conv.weight")];
            let per: usize = shape[1..].iter().product();
            sq += w[c * per..(c + 1) * per]
                .iter()
                .map(|&x| f64::from(x).powi(2))
                .sum::<f64>();
            for bn in ["gamma", "beta"] {
                sq += f64::from(p[&format!("{prefix}.bn.{bn}")].0[c]).powi(2);
            }
        }
        let want = sq.sqrt() as f32;
        assert!((scores[0][c] - want).abs() <= 1e-5 * want, "channel {c}");
    }
    // L1 and consumer-inclusive variants differ.
    let l1 = group_importance(
        &net,
        &groups,
        Importance {
            p: 1.0,
            include_consumers: false,
        },
    )
    .unwrap();
    let both = group_importance(
        &net,
        &groups,
        Importance {
            p: 2.0,
            include_consumers: true,
        },
    )
    .unwrap();
    assert!(l1[0][0] > scores[0][0]);
    assert!(both[0].iter().zip(&scores[0]).all(|(b, s)| b > s));
}

#[test]
fn selection_is_layer_wise_cumulative_and_keeps_one() {
    let (spec, net, device) = model(ModelKind::Vgg11, [3, 32, 32], 8);
    let groups = channel_groups(&net);
    let scores = group_importance(&net, &groups, Importance::default()).unwrap();
    // Removes the lowest-scored channels.
    let keep = select_groups(&groups, &scores, None, &GroupRatios::uniform(0.25)).unwrap();
    for (k, s) in keep.iter().zip(&scores) {
        let max_removed = s.iter().zip(k).filter(|(_, k)| !**k).map(|(s, _)| *s);
        let min_kept = s.iter().zip(k).filter(|(_, k)| **k).map(|(s, _)| *s);
        assert!(max_removed.fold(f32::MIN, f32::max) <= min_kept.fold(f32::MAX, f32::min));
    }
    // A second step of 0.25 removes floor(C_orig * 0.25) more.
    let keep2 = select_groups(&groups, &scores, Some(&keep), &GroupRatios::uniform(0.25)).unwrap();
    for ((k1, k2), g) in keep.iter().zip(&keep2).zip(&groups) {
        assert_eq!(kept(k2).len(), g.channels - 2 * (g.channels / 4));
        assert!(k2.iter().zip(k1).all(|(&n, &o)| o || !n), "cumulative");
    }
    // Ratio 1 keeps one channel per group; the 1-channel network still matches its masks.
    let out = prune_both_ways(&spec, &net, &device, &GroupRatios::uniform(1.0));
    assert!(out.plan.kept().iter().all(|&k| k == 1));
    assert!(out.diff < TOL, "{}", out.diff);
    // Bad inputs are errors, not panics.
    assert!(matches!(
        select_groups(&groups, &scores, None, &GroupRatios::uniform(1.5)),
        Err(StructuredError::BadRatio { .. })
    ));
    assert!(matches!(
        select_groups(&groups, &scores[1..], None, &GroupRatios::uniform(0.5)),
        Err(StructuredError::Count { .. })
    ));
    let mut bad = keep.clone();
    bad[0].pop();
    assert!(matches!(
        shrink(&net, &groups, &bad),
        Err(StructuredError::KeepLength { .. })
    ));
    let mut none = keep.clone();
    none[2].iter_mut().for_each(|k| *k = false);
    assert!(matches!(
        shrink(&net, &groups, &none),
        Err(StructuredError::EmptyGroup { .. })
    ));
}

#[test]
fn dropping_bn_stat_selection_is_detected() {
    let (_, net, _) = model(ModelKind::Vgg11, [3, 32, 32], 12);
    let plan =
        StructuredPlan::new(&net, Importance::default(), &GroupRatios::uniform(0.5)).unwrap();
    let mut groups = plan.groups.clone();
    for g in &mut groups {
        g.slices.retain(|s| s.role != Role::BnStat);
    }
    let err = shrink(&net, &groups, &plan.keep).unwrap_err();
    assert!(
        matches!(&err, StructuredError::Inconsistent(m) if m.contains("running_mean")),
        "{err}"
    );
}

#[test]
fn breaking_residual_coupling_changes_the_function() {
    // Split the shortcut of stage 1 off its residual group: it then keeps its own best
    // channels, the shapes still agree, but the residual sum mixes different channels.
    let (spec, net, device) = model(ModelKind::ResNet20, [3, 32, 32], 13);
    let mut groups = channel_groups(&net);
    let at = groups.iter().position(|g| g.name == "stage1").unwrap();
    let mut split = groups[at].clone();
    split.name = "stage1-shortcut".into();
    split.layers = vec!["blocks.3.shortcut.conv".into()];
    split
        .slices
        .retain(|s| s.param.starts_with("blocks.3.shortcut.") && s.role != Role::Consumer);
    groups[at]
        .slices
        .retain(|s| !s.param.starts_with("blocks.3.shortcut.") || s.role == Role::Consumer);
    groups[at].layers.retain(|l| l != "blocks.3.shortcut.conv");
    groups.push(split);
    let scores = group_importance(&net, &groups, Importance::default()).unwrap();
    let keep = select_groups(&groups, &scores, None, &GroupRatios::uniform(0.5)).unwrap();
    assert_ne!(
        keep[at],
        keep[groups.len() - 1],
        "split groups chose different channels"
    );
    let masked = apply_channel_masks(&net, &groups, &keep).unwrap();
    let shrunk = shrink(&net, &groups, &keep).unwrap();
    let [c, h, w] = spec.input;
    let x = Tensor::<4>::random([2, c, h, w], Distribution::Normal(0.0, 1.0), &device);
    let diff = max_abs_diff(&logits(&masked, &x), &logits(&shrunk, &x));
    eprintln!("decoupled residual: max |masked - shrunk| = {diff}");
    assert!(
        diff > 1e-3,
        "decoupling must break equivalence, diff {diff}"
    );
}
